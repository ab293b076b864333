#include "apps/study/results.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "apps/common/report.h"

namespace dl::study {

namespace {

std::vector<std::string> split_csv(const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ',')) cells.push_back(cell);
    return cells;
}

double cell_value(const std::vector<std::string>& cells, int column, const std::string& path) {
    if (column < 0 || column >= static_cast<int>(cells.size()))
        throw std::runtime_error(path + ": a row has " + std::to_string(cells.size()) + " cells, fewer than the header");
    const std::string& c = cells[column];
    if (c == "nan" || c == "-nan" || c == "NaN" || c.empty()) return NAN;
    try {
        return std::stod(c);
    } catch (const std::exception&) {
        throw std::runtime_error(path + ": '" + c + "' is not a number");
    }
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::vector<long> read_segments(const std::string& run_dir) {
    std::ifstream in(run_dir + "/segments.txt");
    std::vector<long> starts;
    for (long n; in >> n;) starts.push_back(n);
    return starts;
}

std::vector<EpochRow> read_metrics(const std::string& run_dir) {
    const std::string path = run_dir + "/metrics.csv";
    std::ifstream in(path);
    if (!in) return {};
    std::string line;
    while (std::getline(in, line) && line.rfind('#', 0) == 0) {}  // build/train's comment lines
    if (!in) return {};
    const std::vector<std::string> header = split_csv(line);
    auto col = [&](const char* name) {
        auto it = std::find(header.begin(), header.end(), name);
        if (it == header.end()) throw std::runtime_error(path + ": no column '" + name + "' in the header");
        return static_cast<int>(it - header.begin());
    };
    const int c_epoch = col("epoch"), c_val = col("val_acc"), c_test = col("test_acc"), c_loss = col("train_loss"),
              c_sec = col("seconds");
    const std::vector<long> starts = read_segments(run_dir);
    std::map<int, EpochRow> by_epoch;  // a resumed run may repeat an epoch: the last copy wins
    double offset = 0;
    for (long index = 0; std::getline(in, line); ++index) {
        if (line.empty()) continue;
        const std::vector<std::string> cells = split_csv(line);
        if (cells.size() < header.size()) break;  // a row cut short by a kill: ignore it
        EpochRow r;
        r.epoch = static_cast<int>(cell_value(cells, c_epoch, path));
        r.val_acc = cell_value(cells, c_val, path);
        r.test_acc = cell_value(cells, c_test, path);
        r.train_loss = cell_value(cells, c_loss, path);
        if (index > 0 && std::find(starts.begin(), starts.end(), index) != starts.end()) {
            // a resumed process: its clock started again at 0 where the checkpoint was
            auto before = by_epoch.find(r.epoch - 1);
            offset = before != by_epoch.end() ? before->second.seconds : 0.0;
        }
        r.seconds = offset + cell_value(cells, c_sec, path);
        by_epoch[r.epoch] = r;
    }
    std::vector<EpochRow> rows;
    for (auto& [e, r] : by_epoch) rows.push_back(r);
    return rows;
}

double RunResult::final_val() const {
    return status == RunStatus::Done && !rows.empty() ? rows.back().val_acc : NAN;
}

double RunResult::final_test() const {
    return status == RunStatus::Done && !rows.empty() ? rows.back().test_acc : NAN;
}

RunResult read_run(const RunSpec& spec) {
    RunResult r;
    r.spec = spec;
    r.rows = read_metrics(spec.dir);
    if (file_exists(spec.dir + "/done.json")) {
        r.status = RunStatus::Done;
    } else if (file_exists(spec.dir + "/failed.txt")) {
        r.status = RunStatus::Failed;
        r.error = read_text(spec.dir + "/failed.txt");
        while (!r.error.empty() && r.error.back() == '\n') r.error.pop_back();
    } else if (file_exists(spec.dir + "/model.ckpt")) {
        r.status = RunStatus::Partial;
    }
    return r;
}

const RunResult* best_run(const std::vector<RunResult>& tuning) {
    // One grid point: nothing to choose (a study of fixed settings may have no validation split).
    if (tuning.size() == 1) return tuning[0].status == RunStatus::Done ? &tuning[0] : nullptr;
    const RunResult* best = nullptr;
    for (const RunResult& r : tuning) {
        const double v = r.final_val();
        if (!std::isfinite(v)) continue;
        if (!best || v > best->final_val() || (v == best->final_val() && r.spec.lr < best->spec.lr)) best = &r;
    }
    return best;
}

MeanSd mean_sd(const std::vector<double>& v) {
    MeanSd m;
    m.n = static_cast<int>(v.size());
    if (v.empty()) return m;
    for (double x : v) m.mean += x;
    m.mean /= v.size();
    if (v.size() > 1) {
        double ss = 0;
        for (double x : v) ss += (x - m.mean) * (x - m.mean);
        m.sd = std::sqrt(ss / (v.size() - 1));
    }
    return m;
}

TimeToTarget time_to_target(const std::vector<EpochRow>& rows, double target) {
    for (const EpochRow& r : rows)
        if (r.test_acc >= target) return {r.epoch, r.seconds};
    return {};
}

double median_reached(std::vector<double> v) {
    if (v.empty()) return NAN;
    for (double& x : v)
        if (std::isnan(x)) x = INFINITY;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double m = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return std::isfinite(m) ? m : NAN;
}

Summary summarize(const std::string& optimizer, const std::vector<RunResult>& tuning,
                  const std::vector<RunResult>& seeds, double target) {
    Summary s;
    s.optimizer = optimizer;
    for (const RunResult& r : tuning) s.failed_grid_points += r.status == RunStatus::Failed;
    const RunResult* best = best_run(tuning);
    if (!best) {
        s.median_epochs = s.median_seconds = NAN;
        return s;
    }
    s.tuned = true;
    s.best_lr = best->spec.lr;
    s.best_at_edge = tuning.size() > 1 && (best == &tuning.front() || best == &tuning.back());
    std::vector<double> finals, epochs, seconds;
    for (const RunResult& r : seeds) {
        if (r.status != RunStatus::Done) continue;
        finals.push_back(r.final_test());
        const TimeToTarget t = time_to_target(r.rows, target);
        epochs.push_back(t.epoch > 0 ? t.epoch : NAN);
        seconds.push_back(t.epoch > 0 ? t.seconds : NAN);
        s.reached += t.epoch > 0;
    }
    s.seeds = static_cast<int>(finals.size());
    s.final_test = mean_sd(finals);
    s.median_epochs = median_reached(epochs);
    s.median_seconds = median_reached(seconds);
    return s;
}

}  // namespace dl::study
