#include "apps/study/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace dl::study {

namespace {

struct StepSize {
    const char* optimizer;
    const char* name;   // what --lr is for this algorithm (optim/<name>.h)
    const char* grid;   // default grid: 5 points over 2 decades
};

// The default grids come from wide scans (every decade from 1e-7 to 10; mlp, one
// epoch on 12000 examples, seed 1; docs/study/README.md has the numbers): each is
// centred on the best point of its scan, so that the tuning curve of a longer
// study shows both sides of its best value. adaptive's grid is for
// --per-example-sigma=true: in batch mode it diverged at every lambda_eta >= 1e-4
// and reached 27% at best (its sigma estimate is 0 once B >= B*, and eta[i] then
// sits at its cap).
const StepSize kStepSizes[] = {
    {"sgd", "eta", "1e-2:1:5"},
    {"momentum", "eta (v-form: steps of about N_g eta)", "3e-3:3e-1:5"},
    {"momentum-ema", "eta' (= N_g eta of momentum)", "3e-2:3:5"},
    {"rmsprop", "eta", "1e-4:1e-2:5"},
    {"rmsprop-var", "eta (units of the loss)", "1e-8:1e-6:5"},
    {"rmsprop-per-example", "eta", "3e-4:3e-2:5"},
    {"adam", "eta", "1e-4:1e-2:5"},
    {"adam-lecture", "eta", "3e-4:3e-2:5"},
    {"langevin", "eta", "1e-2:1:5"},
    {"langevin-precond", "eta' (eta_i = eta'/sigma_i^2)", "3e-5:3e-3:5"},
    {"adaptive", "lambda_eta", "1e1:1e3:5"},
};

const StepSize* find_step_size(const std::string& optimizer) {
    for (const StepSize& s : kStepSizes)
        if (optimizer == s.optimizer) return &s;
    return nullptr;
}

double parse_number(const std::string& text, const std::string& grid) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw std::invalid_argument("--grid '" + grid + "': '" + text + "' is not a number");
    if (!(v > 0) || !std::isfinite(v))
        throw std::invalid_argument("--grid '" + grid + "': learning rates must be positive and finite, got " + text);
    return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) parts.push_back(part);
    if (!s.empty() && s.back() == sep) parts.emplace_back();
    return parts;
}

double rounded(double lr) { return std::stod(lr_text(lr)); }

}  // namespace

std::string lr_text(double lr) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", lr);
    return buf;
}

std::vector<double> parse_grid(const std::string& grid) {
    if (grid.empty()) throw std::invalid_argument("--grid is empty: give A:B:N (N points from A to B) or a list a,b,c");
    std::vector<double> lrs;
    if (grid.find(':') != std::string::npos) {
        const std::vector<std::string> p = split(grid, ':');
        if (p.size() != 3) throw std::invalid_argument("--grid '" + grid + "': expected A:B:N, e.g. 1e-4:1:9");
        const double a = parse_number(p[0], grid), b = parse_number(p[1], grid);
        int n = 0;
        try {
            size_t used = 0;
            n = std::stoi(p[2], &used);
            if (used != p[2].size()) n = -1;
        } catch (const std::exception&) {
            n = -1;
        }
        if (n < 1) throw std::invalid_argument("--grid '" + grid + "': N must be a whole number >= 1, got '" + p[2] + "'");
        if (n > 1000) throw std::invalid_argument("--grid '" + grid + "': " + p[2] + " points is too many (at most 1000)");
        if (n > 1 && a == b) throw std::invalid_argument("--grid '" + grid + "': " + p[2] + " points between equal ends");
        for (int i = 0; i < n; ++i) {
            const double t = n == 1 ? 0.0 : static_cast<double>(i) / (n - 1);
            lrs.push_back(rounded(std::exp(std::log(a) + t * (std::log(b) - std::log(a)))));
        }
    } else {
        for (const std::string& s : split(grid, ',')) lrs.push_back(rounded(parse_number(s, grid)));
    }
    std::sort(lrs.begin(), lrs.end());
    if (std::adjacent_find(lrs.begin(), lrs.end()) != lrs.end())
        throw std::invalid_argument("--grid '" + grid + "': two points are equal to 3 significant digits");
    return lrs;
}

std::string step_size_name(const std::string& optimizer) {
    const StepSize* s = find_step_size(optimizer);
    return s ? s->name : "lr";
}

std::string default_grid(const std::string& optimizer) {
    const StepSize* s = find_step_size(optimizer);
    return s ? s->grid : "1e-4:1:9";
}

std::vector<double> grid_for(const StudyOptions& o, const std::string& optimizer) {
    auto it = o.grids.find(optimizer);
    if (it != o.grids.end()) return parse_grid(it->second);
    return parse_grid(o.grid.empty() ? default_grid(optimizer) : o.grid);
}

void validate(const StudyOptions& o, const std::vector<std::string>& known) {
    if (o.optimizers.empty()) throw std::invalid_argument("--optimizers is empty: name at least one");
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    for (const std::string& name : o.optimizers) {
        if (std::find(known.begin(), known.end(), name) == known.end())
            throw std::invalid_argument("--optimizers: unknown optimizer '" + name + "' (known: " + list + ")");
        if (std::count(o.optimizers.begin(), o.optimizers.end(), name) > 1)
            throw std::invalid_argument("--optimizers: '" + name + "' is listed twice");
    }
    for (const auto& [name, grid] : o.grids)
        if (std::find(o.optimizers.begin(), o.optimizers.end(), name) == o.optimizers.end())
            throw std::invalid_argument("--grid " + name + "=" + grid + ": '" + name + "' is not in --optimizers");
    for (const std::string& name : o.optimizers) grid_for(o, name);  // throws on a bad grid
    if (o.seeds.empty()) throw std::invalid_argument("--seeds is empty: give a count (3) or a list (1,2,3)");
    for (size_t i = 0; i < o.seeds.size(); ++i)
        if (std::count(o.seeds.begin(), o.seeds.end(), o.seeds[i]) > 1)
            throw std::invalid_argument("--seeds: seed " + std::to_string(o.seeds[i]) + " is listed twice");
    if (o.epochs < 1) throw std::invalid_argument("--epochs must be at least 1, got " + std::to_string(o.epochs));
    if (!(o.target > 0.0 && o.target <= 1.0))
        throw std::invalid_argument("--target is a test accuracy in (0, 1], got " + lr_text(o.target));
    if (o.batch_size < 1) throw std::invalid_argument("--batch-size must be at least 1, got " + std::to_string(o.batch_size));
    if (!(o.val_split >= 0.0 && o.val_split <= 0.5))
        throw std::invalid_argument("--val-split must be in [0, 0.5], got " + lr_text(o.val_split));
    if (o.val_split == 0.0)
        for (const std::string& name : o.optimizers)
            if (grid_for(o, name).size() > 1)
                throw std::invalid_argument("--val-split 0: the grid of " + name +
                                            " has several points, and the lr is chosen on the validation split");
    if (o.limit < 0) throw std::invalid_argument("--limit must be >= 0, got " + std::to_string(o.limit));
    if (o.jobs < 1) throw std::invalid_argument("--jobs must be at least 1, got " + std::to_string(o.jobs));
    if (o.threads < 1) throw std::invalid_argument("--threads must be at least 1, got " + std::to_string(o.threads));
    if (o.out.empty()) throw std::invalid_argument("--out is empty");
    for (const std::string& a : o.train_args) {
        const size_t colon = a.find(':');
        const std::string arg = colon != std::string::npos && a.compare(0, 2, "--") != 0 ? a.substr(colon + 1) : a;
        if (arg.compare(0, 2, "--") != 0)
            throw std::invalid_argument("--train-arg '" + a + "': expected [OPTIMIZER:]--option[=value]");
        if (arg.size() != a.size() && std::find(known.begin(), known.end(), a.substr(0, colon)) == known.end())
            throw std::invalid_argument("--train-arg '" + a + "': unknown optimizer '" + a.substr(0, colon) + "'");
        for (const char* owned : {"--lr", "--optimizer", "--seed", "--epochs", "--out", "--resume", "--threads",
                                  "--model", "--batch-size", "--val-split", "--limit", "--data"}) {
            const std::string key = arg.substr(0, arg.find('='));
            if (key == owned)
                throw std::invalid_argument("--train-arg '" + a + "': " + key + " is set by the study itself");
        }
    }
}

std::string run_dir(const StudyOptions& o, const std::string& optimizer, double lr, uint64_t seed) {
    return o.out + "/runs/" + optimizer + "/lr" + lr_text(lr) + "-seed" + std::to_string(seed);
}

std::vector<RunSpec> tuning_runs(const StudyOptions& o) {
    std::vector<RunSpec> runs;
    for (const std::string& name : o.optimizers)
        for (double lr : grid_for(o, name))
            runs.push_back({name, lr, o.seeds[0], Phase::Tune, run_dir(o, name, lr, o.seeds[0])});
    return runs;
}

std::vector<RunSpec> seed_runs(const StudyOptions& o, const std::string& optimizer, double best_lr) {
    std::vector<RunSpec> runs;
    for (size_t i = 1; i < o.seeds.size(); ++i)
        runs.push_back({optimizer, best_lr, o.seeds[i], Phase::Seed, run_dir(o, optimizer, best_lr, o.seeds[i])});
    return runs;
}

std::vector<std::string> train_command(const StudyOptions& o, const RunSpec& r) {
    std::vector<std::string> a{"--model", o.model, "--optimizer", r.optimizer, "--lr", lr_text(r.lr),
                               "--epochs", std::to_string(o.epochs), "--batch-size", std::to_string(o.batch_size),
                               "--seed", std::to_string(r.seed), "--threads", std::to_string(o.threads),
                               "--val-split", lr_text(o.val_split), "--out", r.dir};
    if (o.limit > 0) a.insert(a.end(), {"--limit", std::to_string(o.limit)});
    if (!o.data_dir.empty()) a.insert(a.end(), {"--data", o.data_dir});
    for (const std::string& t : o.train_args) {
        const size_t colon = t.find(':');
        if (colon == std::string::npos || t.compare(0, 2, "--") == 0) {
            a.push_back(t);
        } else if (t.substr(0, colon) == r.optimizer) {
            a.push_back(t.substr(colon + 1));
        }
    }
    return a;
}

std::string settings_text(const StudyOptions& o) {
    std::ostringstream s;
    s << "model " << o.model << "\n"
      << "data " << (o.data_dir.empty() ? "(default)" : o.data_dir) << "\n"
      << "epochs " << o.epochs << "\n"
      << "batch_size " << o.batch_size << "\n"
      << "val_split " << lr_text(o.val_split) << "\n"
      << "limit " << o.limit << "\n"
      << "threads " << o.threads << "\n"
      << "tuning_seed " << o.seeds[0] << "\n";
    for (const std::string& t : o.train_args) s << "train_arg " << t << "\n";
    return s.str();
}

}  // namespace dl::study
