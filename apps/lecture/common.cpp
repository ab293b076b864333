#include "apps/lecture/common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace dl::lecture {

namespace {

Check make_check(std::string claim, double measured, double predicted, double tolerance,
                 Compare compare, bool must_hold) {
    Check c{std::move(claim), measured, predicted, tolerance, compare, must_hold, false};
    const double diff = std::fabs(measured - predicted);
    switch (compare) {
        case Compare::Relative: c.holds = diff <= tolerance * std::fabs(predicted); break;
        case Compare::Absolute: c.holds = diff <= tolerance; break;
        case Compare::AtMost: c.holds = measured <= predicted; break;
        case Compare::AtLeast: c.holds = measured >= predicted; break;
    }
    if (!std::isfinite(measured)) c.holds = false;
    return c;
}

}  // namespace

Check check_relative(std::string claim, double measured, double predicted, double tolerance,
                     bool must_hold) {
    return make_check(std::move(claim), measured, predicted, tolerance, Compare::Relative, must_hold);
}
Check check_absolute(std::string claim, double measured, double predicted, double tolerance,
                     bool must_hold) {
    return make_check(std::move(claim), measured, predicted, tolerance, Compare::Absolute, must_hold);
}
Check check_at_most(std::string claim, double measured, double bound, bool must_hold) {
    return make_check(std::move(claim), measured, bound, 0.0, Compare::AtMost, must_hold);
}
Check check_at_least(std::string claim, double measured, double bound, bool must_hold) {
    return make_check(std::move(claim), measured, bound, 0.0, Compare::AtLeast, must_hold);
}

std::string describe(const Check& c) {
    std::string s = fmt(c.measured) + " vs predicted ";
    switch (c.compare) {
        case Compare::Relative:
            return s + fmt(c.predicted) + " (within " + fmt(100.0 * c.tolerance, 3) + "%)";
        case Compare::Absolute: return s + fmt(c.predicted) + " (within +-" + fmt(c.tolerance, 3) + ")";
        case Compare::AtMost: return s + "<= " + fmt(c.predicted);
        case Compare::AtLeast: return s + ">= " + fmt(c.predicted);
    }
    return s;
}

bool Result::must_holds_hold() const {
    for (const Check& c : checks)
        if (c.must_hold && !c.holds) return false;
    return true;
}

double mean_of(const std::vector<double>& x) {
    double sum = 0.0;
    for (double v : x) sum += v;
    return x.empty() ? 0.0 : sum / static_cast<double>(x.size());
}

double variance_of(const std::vector<double>& x) {
    if (x.size() < 2) return 0.0;
    const double m = mean_of(x);
    double sum = 0.0;
    for (double v : x) sum += (v - m) * (v - m);
    return sum / static_cast<double>(x.size() - 1);
}

double median_of(std::vector<double> x) {
    if (x.empty()) return 0.0;
    const size_t mid = x.size() / 2;
    std::nth_element(x.begin(), x.begin() + static_cast<long>(mid), x.end());
    return x[mid];
}

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    const double mx = mean_of(x), my = mean_of(y);
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    LineFit f;
    f.slope = sxx > 0.0 ? sxy / sxx : 0.0;
    f.intercept = my - f.slope * mx;
    f.r2 = sxx > 0.0 && syy > 0.0 ? sxy * sxy / (sxx * syy) : 0.0;
    return f;
}

std::vector<double> fit_linear_quadratic(const std::vector<double>& x, const std::vector<double>& y) {
    // Normal equations of y = a x + b x^2.
    double s2 = 0, s3 = 0, s4 = 0, t1 = 0, t2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        s2 += v * v, s3 += v * v * v, s4 += v * v * v * v;
        t1 += v * y[i], t2 += v * v * y[i];
    }
    const double det = s2 * s4 - s3 * s3;
    return {(t1 * s4 - t2 * s3) / det, (s2 * t2 - s3 * t1) / det};
}

Interval mean_ci95(const std::vector<double>& x) {
    // t_{0.975} for 1..30 degrees of freedom; 1.96 beyond.
    static const double t975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    Interval i;
    i.n = static_cast<int>(x.size());
    i.mean = mean_of(x);
    if (i.n >= 2) {
        const double t = i.n - 1 <= 30 ? t975[i.n - 2] : 1.96;
        i.half = t * std::sqrt(variance_of(x) / i.n);
    }
    return i;
}

std::string fmt_ci(const Interval& i, int precision, const std::string& unit) {
    return fmt(i.mean, precision) + " +- " + fmt(i.half, 2) + " (95% CI, " + std::to_string(i.n) + " " + unit + ")";
}

std::string fmt(double v, int precision) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    return buf;
}

}  // namespace dl::lecture
