// What every experiment of build/lecture shares: its settings, the checks it
// reports (a claim of ../shared/lecture.md, the measured value, the value the
// lecture predicts, a tolerance), its result, and small numeric helpers.
//
// A check with must_hold = false tests a claim the lecture itself marks as
// uncertain ("twilight zone") or states imprecisely: the experiment reports
// what is true, and a disagreement is a finding, not a failure.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "apps/common/report.h"
#include "apps/lecture/plot.h"

namespace dl::lecture {

struct Settings {
    bool quick = false;        // small sizes: seconds per experiment (the tests use this)
    std::string out = "runs/lecture";
    uint64_t seed = 1;
};

// How a measured value is compared with the prediction.
enum class Compare {
    Relative,  // |measured - predicted| <= tolerance * |predicted|
    Absolute,  // |measured - predicted| <= tolerance
    AtMost,    // measured <= predicted (tolerance unused)
    AtLeast,   // measured >= predicted
};

struct Check {
    std::string claim;  // quotes or paraphrases the lecture
    double measured = 0.0;
    double predicted = 0.0;
    double tolerance = 0.0;
    Compare compare = Compare::Relative;
    bool must_hold = true;
    bool holds = false;
};

Check check_relative(std::string claim, double measured, double predicted, double tolerance,
                     bool must_hold = true);
Check check_absolute(std::string claim, double measured, double predicted, double tolerance,
                     bool must_hold = true);
Check check_at_most(std::string claim, double measured, double bound, bool must_hold = true);
Check check_at_least(std::string claim, double measured, double bound, bool must_hold = true);
// "0.031 vs predicted 0.03125 (within 10%)"
std::string describe(const Check& c);

struct Result {
    std::string name;
    std::vector<Check> checks;
    std::string summary;  // one line: what was measured against what was predicted
    std::string csv, png;
    std::string note;     // e.g. gnuplot missing
    double seconds = 0.0;

    bool must_holds_hold() const;
};

// Seeded random numbers; the same seed gives the same experiment.
class Rng {
public:
    explicit Rng(uint64_t seed) : engine_(seed) {}
    double normal() { return normal_(engine_); }
    double uniform(double lo, double hi) { return lo + (hi - lo) * unit_(engine_); }
    int index(int n) { return static_cast<int>(unit_(engine_) * n) % n; }
    std::mt19937_64& engine() { return engine_; }

private:
    std::mt19937_64 engine_;
    std::normal_distribution<double> normal_{0.0, 1.0};
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

double mean_of(const std::vector<double>& x);
double variance_of(const std::vector<double>& x);  // divides by n - 1
double median_of(std::vector<double> x);
// Least-squares slope and intercept of y = a x + b.
struct LineFit {
    double slope = 0.0, intercept = 0.0, r2 = 0.0;
};
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);
// Least squares y = a x + b x^2 (through the origin); returns {a, b}.
std::vector<double> fit_linear_quadratic(const std::vector<double>& x, const std::vector<double>& y);

// The mean of x with a 95% confidence interval (Student t with n - 1 degrees
// of freedom; half = 0 for n < 2). For results over seeds.
struct Interval {
    double mean = 0.0, half = 0.0;
    int n = 0;
    double lo() const { return mean - half; }
    double hi() const { return mean + half; }
};
Interval mean_ci95(const std::vector<double>& x);
// "0.8412 +- 0.0031 (95% CI, 5 seeds)"
std::string fmt_ci(const Interval& i, int precision = 4, const std::string& unit = "seeds");

std::string fmt(double v, int precision = 4);  // "%.*g"

}  // namespace dl::lecture
