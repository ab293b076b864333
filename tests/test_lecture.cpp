// Tests of build/lecture: every experiment runs in quick mode (fixed seeds)
// into a temporary directory, writes its CSV, and every check that must hold
// does. Checks of "twilight zone" claims (must_hold = false) only report.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/common/report.h"
#include "apps/lecture/experiments.h"

using namespace dl;
using namespace dl::lecture;

namespace {

std::string temp_out() {
    char dir[] = "/tmp/test_lecture_XXXXXX";
    const char* made = mkdtemp(dir);
    REQUIRE(made != nullptr);
    return made;
}

}  // namespace

TEST_CASE("lecture: every experiment's must-hold checks hold in quick mode") {
    Settings s;
    s.quick = true;
    s.out = temp_out();
    for (const Experiment& e : experiments()) {
        const std::string name = e.name;
        CAPTURE(name);
        const Result r = e.run(s);
        CHECK(r.name == e.name);
        CHECK(file_exists(r.csv));
        CHECK_FALSE(r.checks.empty());
        CHECK_FALSE(r.summary.empty());
        for (const Check& c : r.checks) {
            CAPTURE(c.claim);
            CAPTURE(describe(c));
            if (c.must_hold) CHECK(c.holds);
        }
    }
    CHECK(std::system(("rm -rf '" + s.out + "'").c_str()) == 0);
}

TEST_CASE("lecture: checks compare as documented") {
    CHECK(check_relative("r", 1.05, 1.0, 0.1).holds);
    CHECK_FALSE(check_relative("r", 1.2, 1.0, 0.1).holds);
    CHECK(check_absolute("a", -0.95, -1.0, 0.08).holds);
    CHECK_FALSE(check_absolute("a", 0.0, 1.0, 0.5).holds);
    CHECK(check_at_most("m", 1.0, 1.0).holds);
    CHECK_FALSE(check_at_least("l", 0.5, 0.9).holds);
    CHECK_FALSE(check_relative("nan", std::nan(""), 1.0, 10.0).holds);
    CHECK(find_experiment("no-such-thing") == nullptr);
}

TEST_CASE("lecture: every experiment is registered, in the lecture's order") {
    const std::vector<std::string> names = {
        "noise-at-optimum", "running-average", "robbins-monro", "snapshot-ensemble", "gradient-flow",
        "momentum-conjugacy", "batch-scaling", "rmsprop-batch", "rmsprop-sigma", "adam-simplified", "loss-vs-lr",
        "langevin-1d", "langevin-2d", "optimal-batch", "eta-rule-1d", "vector-bound", "vector-errata", "adaptive",
        "step-decay"};
    REQUIRE(experiments().size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) CHECK(experiments()[i].name == names[i]);
}

TEST_CASE("lecture: 95% confidence intervals use Student's t") {
    const Interval i = mean_ci95({1.0, 2.0, 3.0});  // sd 1, n 3: t(2) = 4.303
    CHECK(i.mean == doctest::Approx(2.0));
    CHECK(i.half == doctest::Approx(4.303 / std::sqrt(3.0)).epsilon(1e-4));
    CHECK(mean_ci95({5.0}).half == 0.0);
}

TEST_CASE("lecture: plots draw predictions dashed under the measurements, legends below the data") {
    const Panel p{"title", "x", "y", "x",
                  {{"m", "measured", Style::Measured, 0}, {"f", "fit", Style::Predicted, 0},
                   {"c", "", Style::Band, 0, "lo", "hi"}}};
    const Table t{"", {"x", "m", "f", "lo", "hi"}, {{1, 2, 2, 1, 3}, {2, 3, 3, 2, 4}}};
    const std::string g = gnuplot_script({t}, {"a.csv"}, "a.png", {p});
    CHECK(g.find("set key below") != std::string::npos);
    CHECK(g.find("set format x '%g'") != std::string::npos);
    const size_t band = g.find("filledcurves"), fit = g.find("dt 2"), measured = g.find("linespoints");
    REQUIRE(band != std::string::npos);
    REQUIRE(fit != std::string::npos);
    REQUIRE(measured != std::string::npos);
    CHECK(band < fit);
    CHECK(fit < measured);
    Panel wrong = p;
    wrong.table = 1;
    CHECK_THROWS_AS(gnuplot_script({t}, {"a.csv"}, "a.png", {wrong}), std::invalid_argument);
}

TEST_CASE("lecture: log axes spanning less than two decades get 1-2-5 ticks") {
    auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i)
            if (std::fabs(a[i] - b[i]) > 1e-12 * b[i]) return false;
        return true;
    };
    CHECK(same(log_ticks(0.02, 0.4), {0.02, 0.05, 0.1, 0.2}));
    CHECK(same(log_ticks(3.0, 9.0), {3, 4, 5, 6, 7, 8, 9}));
    CHECK(log_ticks(0.001, 10.0).empty());  // gnuplot's decades suffice
}
