// build/lecture: the experiments of the SGD lecture (../shared/lecture.md).
//
//   build/lecture NAME|all [--quick] [--out DIR] [--seed N] [--threads N]
//   build/lecture --list
//
// For each experiment it prints what was measured beside what the lecture
// predicts and AGREES/DIFFERS, writes OUT/NAME.csv and OUT/NAME.png, and
// (for `all`) OUT/summary.md. It exits non-zero only when a check that must
// hold does not (checks of "twilight zone" claims report, they do not fail).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fstream>
#include <sstream>

#include "core/blas_setup.h"
#include "apps/lecture/experiments.h"
#include "core/parallel.h"

using namespace dl;
using namespace dl::lecture;

namespace {

const char* kUsage =
    "usage: build/lecture NAME|all [--quick] [--out DIR] [--seed N] [--threads N] [--readme FILE]\n"
    "       build/lecture --list | --help\n"
    "Runs the experiments of the SGD lecture; prints measured vs predicted values,\n"
    "writes OUT/NAME.csv and OUT/NAME.png (OUT defaults to runs/lecture) and, for all,\n"
    "OUT/summary.md. Exits 1 if a check that must hold does not.\n"
    "--readme FILE (with all) puts each experiment's one-line result and picture between\n"
    "the lines <!-- LECTURE:BEGIN --> and <!-- LECTURE:END --> of FILE (OUT relative to FILE's folder).\n";

struct Options {
    std::string name;
    Settings settings;
    int threads = 0;
    std::string readme;
};

long parse_number(const std::string& flag, const std::string& text, long lo) {
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < lo)
        throw std::invalid_argument(flag + " expects an integer >= " + std::to_string(lo) + ", got '" +
                                    text + "'");
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--quick") o.settings.quick = true;
        else if (a == "--out") o.settings.out = value();
        else if (a == "--seed") o.settings.seed = static_cast<uint64_t>(parse_number(a, value(), 0));
        else if (a == "--threads") o.threads = static_cast<int>(parse_number(a, value(), 1));
        else if (a == "--readme") o.readme = value();
        else if (!a.empty() && a[0] == '-') throw std::invalid_argument("unknown option " + a);
        else if (o.name.empty()) o.name = a;
        else throw std::invalid_argument("one experiment name or 'all', got '" + o.name + "' and '" + a + "'");
    }
    if (o.name.empty()) throw std::invalid_argument("no experiment given (try --list)");
    if (!o.readme.empty() && o.name != "all") throw std::invalid_argument("--readme needs 'all'");
    if (o.name != "all" && !find_experiment(o.name))
        throw std::invalid_argument("unknown experiment '" + o.name + "' (try --list)");
    return o;
}

void print_result(const Result& r) {
    std::printf("== %s (%.1f s) ==\n", r.name.c_str(), r.seconds);
    for (const Check& c : r.checks)
        std::printf("  %-7s %s%s\n          %s\n", c.holds ? "AGREES" : "DIFFERS", c.claim.c_str(),
                    c.must_hold ? "" : "  [reported, not required]", describe(c).c_str());
    std::printf("  result: %s\n", r.summary.c_str());
    std::printf("  wrote %s%s%s\n", r.csv.c_str(), r.png.empty() ? "" : " and ", r.png.c_str());
    if (!r.note.empty()) std::printf("  note: %s\n", r.note.c_str());
    std::fflush(stdout);
}

// A markdown table cell: '|' would end the cell.
std::string md_cell(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
}

std::string summary_markdown(const std::vector<Result>& results, const Settings& s) {
    std::string md = "# The lecture's claims, measured\n\n"
                     "Produced by `build/lecture all" + std::string(s.quick ? " --quick" : "") +
                     " --out " + s.out + "`. AGREES/DIFFERS compares each measurement with the value "
                     "the lecture predicts; *(reported)* marks claims the lecture itself calls "
                     "uncertain (twilight zone) or states imprecisely, where the measured value is "
                     "the result. Each check states its tolerance; where training is involved, values "
                     "are means over seeds with 95% confidence intervals (Student t), and the slide "
                     "a finding concerns is named in the result.\n\n| experiment | result | checks | picture |\n|---|---|---|---|\n";
    for (const Result& r : results) {
        std::string checks;
        for (const Check& c : r.checks)
            checks += std::string(checks.empty() ? "" : "<br>") + (c.holds ? "AGREES" : "DIFFERS") +
                      (c.must_hold ? "" : " *(reported)*") + ": " + c.claim + ": " + describe(c);
        const std::string png = r.png.empty() ? "(no picture)"
                                              : "![" + r.name + "](" + r.name + ".png)";
        md += "| `" + r.name + "` (" + fmt(r.seconds, 2) + " s) | " + md_cell(r.summary) + " | " + md_cell(checks) +
              " | " + png + " |\n";
    }
    return md;
}

// The README's section: one line and one picture per experiment, between two marker lines.
void update_readme(const std::string& path, const std::vector<Result>& results, const Settings& s) {
    const std::string begin = "<!-- LECTURE:BEGIN -->", end = "<!-- LECTURE:END -->";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("--readme: cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const size_t b = text.find(begin), e = text.find(end);
    if (b == std::string::npos || e == std::string::npos || e < b)
        throw std::runtime_error("--readme: " + path + " has no " + begin + " ... " + end + " section");
    std::string md = begin + "\n<!-- written by `build/lecture all" + std::string(s.quick ? " --quick" : "") +
                     " --out " + s.out + " --readme " + path + "`; do not edit by hand -->\n\n"
                     "| experiment | what was measured | picture |\n|---|---|---|\n";
    for (const Result& r : results) {
        int differs = 0;
        for (const Check& c : r.checks) differs += !c.holds;
        md += "| `" + r.name + "`" + (differs ? " (" + std::to_string(differs) + " DIFFERS)" : "") + " | " +
              md_cell(r.summary) + " | " +
              (r.png.empty() ? "" : "[" + r.name + ".png](" + s.out + "/" + r.name + ".png)") + " |\n";
    }
    write_file_atomic(path, text.substr(0, b) + md + "\n" + text.substr(e));
    std::printf("updated %s\n", path.c_str());
}

int run(const Options& o) {
    std::vector<const Experiment*> todo;
    if (o.name == "all")
        for (const Experiment& e : experiments()) todo.push_back(&e);
    else
        todo.push_back(find_experiment(o.name));
    std::vector<Result> results;
    bool ok = true;
    for (const Experiment* e : todo) {
        const auto start = std::chrono::steady_clock::now();
        Result r = e->run(o.settings);
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        print_result(r);
        ok = ok && r.must_holds_hold();
        results.push_back(std::move(r));
    }
    if (o.name == "all") {
        write_file_atomic(o.settings.out + "/summary.md", summary_markdown(results, o.settings));
        std::printf("wrote %s/summary.md\n", o.settings.out.c_str());
        if (!o.readme.empty()) update_readme(o.readme, results, o.settings);
    }
    if (!ok) std::fprintf(stderr, "lecture: a check that must hold does not (see DIFFERS above)\n");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--help" || a == "-h") {
                std::printf("%s", kUsage);
                return 0;
            }
            if (a == "--list") {
                for (const Experiment& e : experiments()) std::printf("%-20s %s\n", e.name, e.claim);
                return 0;
            }
        }
        const Options o = parse(argc, argv);
        if (o.threads > 0) set_num_threads(o.threads);
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lecture: %s\n", e.what());
        return 2;
    }
}
