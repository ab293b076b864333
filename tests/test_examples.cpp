// The example programs of apps/examples/ (what a newcomer copies) still build and
// run on the public API: each runs its --quick mode on Fashion-MNIST, exits 0 and
// prints a test loss and accuracy that show it learnt something.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "tests/run_program.h"

using dl::testing::ProgramResult;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

// Reads "... test loss L, accuracy A" from the program's last line.
bool read_loss_accuracy(const std::string& line, double& loss, double& accuracy) {
    const size_t at = line.find("test loss ");
    return at != std::string::npos && std::sscanf(line.c_str() + at, "test loss %lf, accuracy %lf", &loss, &accuracy) == 2;
}

}  // namespace

TEST_CASE("examples: build/examples/first trains an MLP and evaluates it") {
    TempDir tmp;
    const ProgramResult r = run_program("build/examples/first --quick", tmp.str());
    INFO(r.out, r.err);
    REQUIRE(r.status == 0);
    double loss = NAN, accuracy = NAN;
    REQUIRE(read_loss_accuracy(r.last_line(), loss, accuracy));
    CHECK(r.last_line().find("after 50 steps") != std::string::npos);
    CHECK(loss < 1.0);  // untrained: log 10 = 2.3
    CHECK(accuracy > 0.6);  // chance: 0.1
}

TEST_CASE("examples: build/examples/custom_model builds fmnist_2c2d by hand, fused, and trains it") {
    TempDir tmp;
    const ProgramResult r = run_program("build/examples/custom_model --quick", tmp.str());
    INFO(r.out, r.err);
    REQUIRE(r.status == 0);
    // The summary: fused convolutions with "same" padding, and the lazy Linear's input size learnt.
    CHECK(r.out.find("ConvReluMaxPool(Conv2d(1, 32, kernel 5, stride 1, padding 2)") != std::string::npos);
    CHECK(r.out.find("conv2d_relu_max_pool2d") != std::string::npos);
    CHECK(r.out.find("3,274,634") != std::string::npos);  // DeepOBS's parameter count
    CHECK(r.out.find("learnt its input size: Linear(3136, 1024)") != std::string::npos);
    double loss = NAN, accuracy = NAN;
    REQUIRE(read_loss_accuracy(r.last_line(), loss, accuracy));
    CHECK(r.last_line().find("1280 examples") != std::string::npos);  // 10 steps of 128
    CHECK(loss < 1.6);
    CHECK(accuracy > 0.4);
}
