// The default build is portable: one binary runs on any x86-64 CPU and its fast floor
// picks the best instruction set the CPU has by itself (core/fast/dispatch.h). Checked
// by running this test program under qemu's user-mode emulator (Debian qemu-user) as
// an AVX2 CPU without AVX-512 (Haswell) and as one without AVX (Nehalem), on a subset
// of the fast floor's tests (emulation is slow).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/fast/dispatch.h"
#include "tests/run_program.h"
#include "tests/temp_dir.h"

using namespace dl;

TEST_CASE("dispatch: the best target this CPU runs, or the one DL_SIMD caps it at") {
    const std::vector<std::string> targets = fast::simd_targets();
    REQUIRE(!targets.empty());
    CHECK(targets.back() == "scalar");  // always compiled, always runs
    const char* cap = std::getenv("DL_SIMD");
    const std::string expected = cap && *cap ? std::string(cap) : targets.front();
    const char* emulated = std::getenv("DL_EXPECT_SIMD");  // set by the qemu check below
    if (emulated) CHECK(targets.front() == std::string(emulated));
    if (!cap || !*cap || std::find(targets.begin(), targets.end(), expected) != targets.end())
        CHECK(fast::simd_target() == expected);
    CHECK_THROWS_WITH_AS(fast::set_simd_cap("avx1024"),
                         doctest::Contains("DL_SIMD: 'avx1024' is not an instruction set of this build"),
                         std::invalid_argument);
}

TEST_CASE("dispatch: a bad DL_SIMD stops a program with one line, not a crash") {
    dl::testing::TempDir dir;
    for (const char* program : {"build/bench --only cnn_train_step --repeats 1", "build/train --help"}) {
        const dl::testing::ProgramResult r = dl::testing::run_program(std::string("DL_SIMD=avx1024 ") + program, dir.str());
        INFO(program << ": status " << r.status << ", stderr: " << r.err);
        CHECK(r.status == 1);
        CHECK(r.err.find("DL_SIMD: 'avx1024' is not an instruction set of this build") != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
}

#if defined(__x86_64__)
TEST_CASE("portable build: as an AVX2 CPU and as a CPU without AVX (qemu), the fast floor picks avx2 and scalar") {
#if defined(__AVX2__)
    MESSAGE("skipped: this build assumes AVX2 (OPT with -march=...), it is not meant to run on older CPUs");
    return;
#else
    const bool have_qemu = std::system("command -v qemu-x86_64 >/dev/null 2>&1") == 0;
    INFO("qemu-x86_64 not found (Debian package qemu-user, installed by make deps)");
    REQUIRE(have_qemu);
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    REQUIRE(n > 0);
    self[n] = '\0';
    dl::testing::TempDir dir;
    struct Cpu {
        const char *model, *blas, *simd, *tests;
    };
    // OPENBLAS_CORETYPE is set for OpenBLAS (the library would otherwise re-exec itself
    // to pick its kernels, outside the emulator).
    const Cpu cpus[] = {
        {"Haswell", "Haswell", "avx2",
         "dispatch: the best*,fast pool*,fast conv batch*,fast floor sweep: conv2d_relu*,fast floor sweep: max*"},
        {"Nehalem", "Nehalem", "scalar", "dispatch: the best*,fast conv batch*"},
    };
    for (const Cpu& c : cpus) {
        const std::string command = std::string("qemu-x86_64 -cpu ") + c.model + " -U DL_SIMD -E OPENBLAS_CORETYPE=" +
                                    c.blas + " -E DL_EXPECT_SIMD=" + c.simd + " " + self + " -tc='" + c.tests + "'";
        const dl::testing::ProgramResult r = dl::testing::run_program(command, dir.str());
        INFO(command << "\n" << r.out << r.err);
        CHECK(r.status == 0);
        CHECK(r.out.find("Status: SUCCESS") != std::string::npos);
    }
#endif
}
#endif
