// Runs one of the built programs (build/train, build/predict, ...) from a test
// and captures its exit status, stdout and stderr.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace dl::testing {

struct ProgramResult {
    int status = -1;  // exit status (128 + signal if killed)
    std::string out, err;
    std::string last_line() const {
        std::string s = out;
        while (!s.empty() && s.back() == '\n') s.pop_back();
        const size_t nl = s.rfind('\n');
        return nl == std::string::npos ? s : s.substr(nl + 1);
    }
};

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// `command` is run by /bin/sh from the repository root (where make test runs).
inline ProgramResult run_program(const std::string& command, const std::string& scratch) {
    const std::string out = scratch + "/stdout.txt", err = scratch + "/stderr.txt";
    const int raw = std::system((command + " >" + out + " 2>" + err + " </dev/null").c_str());
    ProgramResult r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

// A run's metrics.csv rows (comment lines and header included) without the three timing
// columns at the end of each row (examples/s, noise scale, seconds), which differ run to run.
inline std::string metrics_without_timing(const std::string& dir) {
    std::istringstream in(read_text(dir + "/metrics.csv"));
    std::string out;
    for (std::string line; std::getline(in, line);) {
        for (int cut = 0; cut < 3; ++cut) line = line.substr(0, line.rfind(','));
        out += line + "\n";
    }
    return out;
}

// Column `index` of a run's metrics.csv, one value per row after its comment lines and header.
inline std::vector<double> metrics_column(const std::string& dir, int index) {
    std::istringstream in(read_text(dir + "/metrics.csv"));
    std::vector<double> v;
    std::string line;
    while (std::getline(in, line) && line.rfind('#', 0) == 0) {}  // comments, then the header
    while (std::getline(in, line)) {
        std::istringstream row(line);
        std::string cell;
        for (int i = 0; i <= index; ++i) std::getline(row, cell, ',');
        v.push_back(std::stod(cell));
    }
    return v;
}

}  // namespace dl::testing
