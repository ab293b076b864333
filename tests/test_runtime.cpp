// What every program linked with the library gets before main(): OpenBLAS's
// fast kernels (core/blas_setup.h), and denormal floats flushed in every thread
// that computes (core/fast/float_mode.h):
// the main thread, OpenMP's pool during training steps, and the data loader's
// worker. (A timing test would not fail on this machine's AMD cores, whose
// vector units take denormals nearly at full speed; `build/bench`'s
// *_trained cases measure what flushing saves in a training step.)
#include <doctest/doctest.h>

#include <omp.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/blas_setup.h"
#include "core/core.h"
#include "core/fast/float_mode.h"
#include "core/parallel.h"
#include "data/loader.h"
#include "layers/models.h"
#include "optim/adam.h"
#include "tests/run_program.h"

using namespace dl;

namespace {

// The flag as every thread of a parallel region of `threads` threads sees it.
std::vector<int> pool_flags(int threads) {
    std::vector<int> flags(threads, -1);
#pragma omp parallel num_threads(threads)
    flags[omp_get_thread_num()] = thread_flushes_denormals() ? 1 : 0;
    return flags;
}

// One cnn training step with Adam on random data.
void cnn_step(Module& model, Optimizer& opt, Tape& tape, const Tensor& x, const std::vector<int>& y) {
    tape.reset();
    opt.zero_grad();
    tape.backward(softmax_cross_entropy(tape, model.forward(tape, tape.input(x)), y));
    opt.step();
}

Tensor random_batch(int n) {
    Tensor x(Shape{n, 1, 28, 28});
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng);
    return x;
}

}  // namespace

TEST_CASE("blas: the library picked OpenBLAS's kernels before main") {
    // This test program calls nothing to choose them (nor does a program of a
    // user's): on a CPU with AVX2, OpenBLAS must not run its SSE3 fallback.
    INFO("OpenBLAS kernels: " << blas_kernels());
    if (__builtin_cpu_supports("avx2")) CHECK(std::string(blas_kernels()) != "Prescott");
}

TEST_CASE("float mode: denormals are flushed in the main thread, from the start") {
    REQUIRE(flush_denormals());  // DL_DENORMALS=keep is not set for the tests
    CHECK(thread_flushes_denormals());
    // Flush to zero: a product below the normal range becomes 0; denormals are
    // zero: a denormal input reads as 0.
    volatile float tiny = 1e-30f, small = 1e-10f;
    volatile float denormal = std::numeric_limits<float>::denorm_min() * 1000.0f;
    volatile float product = tiny * small, read = denormal * 1.0f;
    CHECK(product == 0.0f);
    CHECK(read == 0.0f);
}

TEST_CASE("float mode: every OpenMP thread flushes during training steps") {
    set_num_threads(2);
    auto model = make_model("cnn", 1, 28, 28, 10, 1);
    Adam adam(model->parameters());
    Tape tape;
    const Tensor x = random_batch(8);
    const std::vector<int> y = {0, 1, 2, 3, 4, 5, 6, 7};
    cnn_step(*model, adam, tape, x, y);
    for (int flag : pool_flags(2)) CHECK(flag == 1);
    cnn_step(*model, adam, tape, x, y);
    for (int flag : pool_flags(2)) CHECK(flag == 1);
}

TEST_CASE("float mode: the data loader's worker thread flushes") {
    Dataset d;
    d.count = 8, d.channels = 1, d.height = 2, d.width = 2, d.classes = 2;
    d.images.assign(d.count * d.image_size(), 7);
    d.labels = {0, 1, 0, 1, 0, 1, 0, 1};
    DataLoaderOptions o;
    o.batch_size = 4;
    DataLoader loader(d, o);
    loader.start_epoch(0);
    REQUIRE(loader.next() != nullptr);  // the worker has run
    CHECK(loader.worker_flushes_denormals());
}

TEST_CASE("float mode: set_flush_denormals(false) keeps IEEE denormals in every thread") {
    set_num_threads(2);
    set_flush_denormals(false);
    volatile float tiny = 1e-30f, small = 1e-10f;
    // volatile: computed and compared here, before the restore (afterwards
    // denormals-are-zero would read the product as 0).
    volatile float product = tiny * small;
    volatile bool product_kept = product > 0.0f;
    const bool main_keeps = !thread_flushes_denormals();
    const std::vector<int> flags = pool_flags(2);
    set_flush_denormals(true);  // restore before checking, so a failure leaves the default
    CHECK(main_keeps);
    CHECK(product_kept);
    for (int flag : flags) CHECK(flag == 0);
    CHECK(thread_flushes_denormals());
    for (int flag : pool_flags(2)) CHECK(flag == 1);
}

// scripts/epoch_speed.py, which README's per-epoch figures come from: each later epoch's
// examples/s over the first one's, a run flagged when one falls more than 5% below.
TEST_CASE("epoch_speed.py: later epochs against the first, a falling run flagged") {
    testing::TempDir tmp;
    const std::string header = "# a comment line\nepoch,train_loss,examples_per_s,seconds\n";
    std::filesystem::create_directories(tmp / "runs/steady");
    std::filesystem::create_directories(tmp / "runs/falling");
    std::filesystem::create_directories(tmp / "runs/short");
    std::ofstream(tmp / "runs/steady/metrics.csv") << header << "1,0.5,1000,1\n2,0.4,1010,2\n3,0.3,990,3\n";
    // epoch 2 repeated by a resume: its last row counts
    std::ofstream(tmp / "runs/falling/metrics.csv") << header << "1,0.5,1000,1\n2,0.4,990,2\n2,0.4,700,2\n3,0.3,600,3\n";
    std::ofstream(tmp / "runs/short/metrics.csv") << header << "1,0.5,1000,1\n";  // one epoch: skipped
    const testing::ProgramResult r = testing::run_program("python3 scripts/epoch_speed.py " + (tmp / "runs"), tmp.str());
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("steady: 1,000 ex/s, then 1.010 0.990\n") != std::string::npos);
    CHECK(r.out.find("falling: 1,000 ex/s, then 0.700 0.600  <- below 0.95\n") != std::string::npos);
    CHECK(r.out.find("2 runs; every later epoch within 5% of the first in 1;") != std::string::npos);

    const testing::ProgramResult bad = testing::run_program("python3 scripts/epoch_speed.py " + (tmp / "none"), tmp.str());
    CHECK(bad.status == 1);
    CHECK(bad.err == "epoch_speed: " + (tmp / "none") + ": no such file or folder\n");
}
