// Tests of build/lecture: every experiment runs in quick mode (fixed seeds)
// into a temporary directory, writes its CSV, and every check that must hold
// does. Checks of "twilight zone" claims (must_hold = false) only report.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
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
        CAPTURE(e.name);
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

TEST_CASE("lecture: every experiment of issue 8 is registered, in the issue's order") {
    const std::vector<std::string> names = {
        "noise-at-optimum", "running-average", "robbins-monro", "gradient-flow", "momentum-conjugacy",
        "batch-scaling", "rmsprop-batch", "rmsprop-sigma", "loss-vs-lr", "langevin-1d", "langevin-2d",
        "optimal-batch", "vector-bound", "adaptive", "step-decay"};
    REQUIRE(experiments().size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) CHECK(experiments()[i].name == names[i]);
}
