// build/bench: speed of training steps, of the statistics path and of the kernels.
//
//   build/bench                          one JSON object a line
//   build/bench --table                  a readable table instead
//   build/bench --only cnn_train_step,sgemm --threads 2 --repeats 40
//
// Every case times single calls after a warm-up and reports the median
// (ms_per_step). A training step is what the trainer does: tape.reset(),
// zero_grad, forward, softmax cross-entropy, backward, SGD step, with the
// tape and its buffers reused from step to step. The *_stats cases alternate
// plain and statistics steps one by one, so that their ratio_to_plain compares
// the two under the same machine load (this machine is noisy). The *_trained
// cases time steps of a model already trained for a while (where denormal
// floats appear), the *_epoch cases two whole epochs as a user runs them.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/blas_setup.h"
#include "core/core.h"
#include "core/fast/conv.h"
#include "core/fast/dispatch.h"
#include "core/fast/gemm.h"
#include "core/fast/float_mode.h"
#include "core/fast/winograd_hwy.h"
#include "core/ops_nn.h"
#include "core/parallel.h"
#include "data/data.h"
#include "layers/models.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace dl;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    bool table = false;
    std::vector<std::string> only;
    int threads = 2;
    int repeats = 30;
    double max_seconds = 3.0;  // per case: stop early (after 5 samples) past this
    int trained_steps = 1000;  // *_trained cases: Adam steps on real data before timing
};

// One line of output.
struct Result {
    Result(std::string n, int b) : name(std::move(n)), batch(b) {}
    std::string name;
    int batch = 0;
    double ms = 0;               // median ms per call
    double cpu_ms = 0;           // mean CPU ms per call (all threads; see cpu_ms())
    double gflop = 0;            // work per call (0: not a FLOP-bound case)
    double ratio_to_plain = 0;   // statistics cases
    double plain_ms = 0;         // statistics cases: the plain step, same run
    std::string note;
};

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of the whole process (all threads), in ms. On a busy machine the
// wall time of a call includes time spent descheduled; the CPU time does not
// (but it does include OpenMP threads spinning at barriers). The kernel adds a
// running worker thread's time only at ticks and switches, so a single call of
// a few ms may see none of it, or several calls' worth: the cases report the
// mean over all timed calls, not the median (medians of such deltas came out
// near the wall time with 2 threads busy).
double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0 : sum / (double)v.size();
}

int warmup_count(const Options& o) { return std::max(3, o.repeats / 5); }

// Median wall ms of single calls of f after a warm-up, and their mean CPU ms.
void time_median(Result& r, const Options& o, const std::function<void()>& f) {
    for (int i = 0; i < warmup_count(o); ++i) f();
    std::vector<double> ms, cpu;
    const auto start = Clock::now();
    for (int i = 0; i < o.repeats; ++i) {
        const auto t0 = Clock::now();
        const double c0 = cpu_ms();
        f();
        cpu.push_back(cpu_ms() - c0);
        ms.push_back(ms_since(t0));
        if (i >= 4 && ms_since(start) > 1e3 * o.max_seconds) break;
    }
    r.ms = median(ms);
    r.cpu_ms = mean(cpu);
}

// Alternates a (the plain step) and b (the statistics step) call by call: r gets
// b's median wall ms and mean CPU ms, the plain step's median and the median of
// the per-pair ratios b/a.
void time_pairs(Result& r, const Options& o, const std::function<void()>& a, const std::function<void()>& b) {
    for (int i = 0; i < warmup_count(o); ++i) a(), b();
    std::vector<double> ta, tb, cb, ratio;
    const auto start = Clock::now();
    for (int i = 0; i < o.repeats; ++i) {
        auto t0 = Clock::now();
        a();
        ta.push_back(ms_since(t0));
        t0 = Clock::now();
        const double c0 = cpu_ms();
        b();
        cb.push_back(cpu_ms() - c0);
        tb.push_back(ms_since(t0));
        ratio.push_back(tb.back() / ta.back());
        if (i >= 4 && ms_since(start) > 2e3 * o.max_seconds) break;
    }
    r.plain_ms = median(ta);
    r.ms = median(tb);
    r.cpu_ms = mean(cb);
    r.ratio_to_plain = median(ratio);
}

Tensor random_tensor(const Shape& s, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Tensor t(s);
    for (size_t i = 0; i < t.size(); ++i) t[i] = normal(rng);
    return t;
}

std::vector<int> labels(int batch) {
    std::vector<int> y(batch);
    for (int i = 0; i < batch; ++i) y[i] = (i * 7) % 10;
    return y;
}

// A model, its optimizer and a fixed batch: one training step as the trainer runs it.
struct TrainSetup {
    std::unique_ptr<Module> model;
    std::unique_ptr<SGD> opt;
    Tensor x;
    std::vector<int> y;

    TrainSetup(const std::string& name, int batch)
        : model(make_model(name, 1, 28, 28, 10, 1)),
          opt(std::make_unique<SGD>(model->parameters(), SGDOptions{0.01f})),
          x(random_tensor(Shape{batch, 1, 28, 28}, 2)),
          y(labels(batch)) {}

    void step(Tape& tape) {
        tape.reset();
        opt->zero_grad();
        Var input = tape.input(x.data(), x.shape());
        Var loss = softmax_cross_entropy(tape, model->forward(tape, input), y);
        tape.backward(loss);
        opt->step();
    }
};

// FLOPs of one training step: forward 2 MACs per multiply-add, backward twice
// that, except the first layer, whose input needs no gradient.
double train_gflop(const std::string& model, int batch) {
    double first, rest;  // forward MACs per example
    if (model == "mlp") {
        first = 784.0 * 256;
        rest = 256.0 * 128 + 128.0 * 10;
    } else {
        first = 16.0 * 25 * 28 * 28;
        rest = 32.0 * 400 * 14 * 14 + 1568.0 * 128 + 128.0 * 10;
    }
    return batch * 2.0 * (2 * first + 3 * rest) * 1e-9;
}

Result train_step(const Options& o, const std::string& model, int batch) {
    TrainSetup s(model, batch);
    Tape tape;
    Result r(model + "_train_step", batch);
    time_median(r, o, [&] { s.step(tape); });
    r.gflop = train_gflop(model, batch);
    return r;
}

Result train_step_stats(const Options& o, const std::string& model, int batch) {
    TrainSetup s(model, batch);
    Tape plain, stats;
    stats.set_statistics(true);
    Result r(model + "_train_step_stats", batch);
    time_pairs(r, o, [&] { s.step(plain); }, [&] { s.step(stats); });
    r.gflop = train_gflop(model, batch);
    char note[96];
    std::snprintf(note, sizeof note, "alternated with plain steps (%.3f ms in the same run)", r.plain_ms);
    r.note = note;
    return r;
}

Result cnn_inference(const Options& o) {
    const int batch = 1000;
    TrainSetup s("cnn", batch);
    s.model->eval();
    Tape tape;
    NoGrad ng(tape);
    Result r("cnn_inference", batch);
    time_median(r, o, [&] {
        tape.reset();
        s.model->forward(tape, tape.input(s.x.data(), s.x.shape()));
    });
    r.gflop = batch * 2.0 * (16.0 * 25 * 784 + 32.0 * 400 * 196 + 1568.0 * 128 + 1280) * 1e-9;
    return r;
}

// The cnn's second convolution alone: x (64,16,14,14) -> (64,32,14,14), kernel 5, padding 2.
Result conv2d_case(const Options& o, bool backward) {
    const int N = 64, C = 16, OC = 32, HW = 14, K = 5;
    Parameter w("weight", Shape{OC, C, K, K}), b("bias", Shape{OC});
    w.value = random_tensor(w.value.shape(), 3);
    b.value = random_tensor(b.value.shape(), 4);
    const Tensor x = random_tensor(Shape{N, C, HW, HW}, 5);
    Tape tape;
    Result r(backward ? "conv2d_backward" : "conv2d_forward", N);
    const double fwd_gflop = 2.0 * N * OC * (C * K * K) * (HW * HW) * 1e-9;
    if (!backward) {
        time_median(r, o, [&] {
            tape.reset();
            conv2d(tape, tape.input(x, true), w, &b, 1, 2);
        });
        r.gflop = fwd_gflop;
    } else {
        Var loss = sum(tape, conv2d(tape, tape.input(x, true), w, &b, 1, 2));
        time_median(r, o, [&] { tape.backward(loss); });
        r.gflop = 2 * fwd_gflop;  // dW and dx
        r.note = "dW, db and dx (+ the sum's fill)";
    }
    return r;
}

// One convolution layer of a user-sized model, forward and backward (dx, dW, db) as in a
// training step: x (N,C,HW,HW) -> (N,OC,OH,OW), kernel K, stride S, "same" padding K/2.
// The note says whether the fast floor runs it (and by which method) or why the reference path does.
Result conv_layer_case(const Options& o, const std::string& name, int N, int C, int HW, int OC, int K, int S) {
    const int P = K / 2;
    Parameter w("weight", Shape{OC, C, K, K}), b("bias", Shape{OC});
    w.value = random_tensor(w.value.shape(), 3);
    b.value = random_tensor(b.value.shape(), 4);
    const Tensor x = random_tensor(Shape{N, C, HW, HW}, 5);
    Tape tape;
    Result r(name, N);
    time_median(r, o, [&] {
        tape.reset();
        w.zero_grad();
        b.zero_grad();
        tape.backward(sum(tape, conv2d(tape, tape.input(x, true), w, &b, S, P)));
    });
    const ConvGeom g{N, C, HW, HW, OC, K, K, S, P};
    r.gflop = 3 * 2.0 * N * OC * g.K() * g.OHW() * 1e-9;  // forward, dW and dx
    const char* why = fast::conv2d_fallback_reason(g);
    r.note = "forward + backward (dx, dW, db); " +
             std::string(why ? std::string("reference path: ") + why
                             : fast::conv_winograd(g) ? (K == 3 ? "fast floor, Winograd F(4x4,3x3)"
                                                                : "fast floor, Winograd F(2x2,5x5)")
                                                      : "fast floor");
    return r;
}

// The mlp's first layer alone: x (128,784) -> (128,256). In a training step its
// input needs no gradient, so backward is dW and db only.
Result linear_case(const Options& o, bool backward) {
    const int N = 128, in = 784, out = 256;
    Parameter w("weight", Shape{out, in}), b("bias", Shape{out});
    w.value = random_tensor(w.value.shape(), 3);
    b.value = random_tensor(b.value.shape(), 4);
    const Tensor x = random_tensor(Shape{N, in}, 5);
    Tape tape;
    Result r(backward ? "linear_backward" : "linear_forward", N);
    r.gflop = 2.0 * N * in * out * 1e-9;
    if (!backward) {
        time_median(r, o, [&] {
            tape.reset();
            linear(tape, tape.input(x), w, &b);
        });
    } else {
        Var loss = sum(tape, linear(tape, tape.input(x), w, &b));
        time_median(r, o, [&] { tape.backward(loss); });
        r.note = "dW and db (input needs no gradient)";
    }
    return r;
}

// OpenBLAS sgemm alone. (M,N,K) = (32,12544,400) is the cnn's second convolution
// forward over the whole batch as one GEMM; 1024^3 is a large square one.
Result sgemm_case(const Options& o, const char* name, int M, int N, int K) {
    const Tensor A = random_tensor(Shape{M, K}, 6), B = random_tensor(Shape{K, N}, 7);
    Tensor C(Shape{M, N});
    Result r(name, 0);
    time_median(r, o, [&] { sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N); });
    r.gflop = 2.0 * M * N * K * 1e-9;
    r.note = "(M,N,K) = (" + std::to_string(M) + "," + std::to_string(N) + "," + std::to_string(K) + ")";
    return r;
}

// The same conv2 GEMM as 64 per-example GEMMs (32,196,400) in an OpenMP loop,
// OpenBLAS single-threaded inside: the best im2col + GEMM could do (the direct
// kernels of core/fast/conv_hwy.cpp do better on this layer).
Result sgemm_per_example(const Options& o) {
    const int E = 64, M = 32, N = 196, K = 400;
    const Tensor A = random_tensor(Shape{M, K}, 6), B = random_tensor(Shape{E, K, N}, 7);
    Tensor C(Shape{E, M, N});
    Result r("sgemm_per_example", E);
    time_median(r, o, [&] {
#pragma omp parallel for schedule(static)
        for (int e = 0; e < E; ++e)
            sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data() + (long)e * K * N, N, 0.0f,
                  C.data() + (long)e * M * N, N);
    });
    r.gflop = 2.0 * E * M * N * K * 1e-9;
    r.note = "64 x (32,196,400) in an OpenMP loop";
    return r;
}

// The Fashion-MNIST training set, or a synthetic stand-in of the same shape
// when the package is missing; `source` says which.
Dataset training_set(std::string& source) {
    try {
        source = "fashion-mnist train";
        return load_mnist_dir(default_data_dir(), true);
    } catch (const std::exception&) {
        source = "synthetic 10000 x 28x28";
        Dataset d;
        d.count = 10000, d.channels = 1, d.height = 28, d.width = 28, d.classes = 10;
        d.images.resize(d.image_size() * d.count);
        d.labels.resize(d.count);
        std::mt19937 rng(8);
        for (auto& p : d.images) p = static_cast<uint8_t>(rng());
        for (int i = 0; i < d.count; ++i) d.labels[i] = i % 10;
        return d;
    }
}

// One batch of 64 from a DataLoader made synchronously in next() (no worker
// thread: this is the full cost that the background worker hides).
Result loader_batch(const Options& o) {
    std::string source;
    const Dataset d = training_set(source);
    DataLoaderOptions lo;
    lo.batch_size = 64;
    lo.background = false;
    lo.norm = compute_normalization(d);
    DataLoader loader(d, lo);
    int epoch = 0;
    loader.start_epoch(epoch);
    Result r("loader_batch", 64);
    time_median(r, o, [&] {
        if (!loader.next()) loader.start_epoch(++epoch), loader.next();
    });
    r.note = source + ", shuffled, normalised, made in next()";
    return r;
}

// Training as a user runs it: real batches from a background DataLoader, Adam
// (lr 0.001), the tape reused. Steps from a fresh initialisation see no
// denormal floats; a trained model does (Adam's average of g^2 decays towards
// 1e-40, and so do some gradients), which is why these cases exist.
struct RealTraining {
    std::string source;
    Dataset data;
    std::unique_ptr<DataLoader> loader;
    std::unique_ptr<Module> model;
    std::unique_ptr<Optimizer> opt;
    Tape tape;
    int epoch = 0;

    RealTraining(const std::string& name, int batch) : data(training_set(source)) {
        DataLoaderOptions lo;
        lo.batch_size = batch;
        lo.seed = 1;
        lo.norm = compute_normalization(data);
        loader = std::make_unique<DataLoader>(data, lo);
        model = make_model(name, 1, 28, 28, 10, 1);
        opt = std::make_unique<Adam>(model->parameters(), AdamOptions{0.001f});
        loader->start_epoch(epoch);
    }
    // One step on the next batch; false at the end of an epoch (no step made).
    bool step_in_epoch() {
        const Batch* b = loader->next();
        if (!b) return false;
        tape.reset();
        opt->zero_grad();
        Var loss = softmax_cross_entropy(tape, model->forward(tape, tape.input(b->x.data(), b->x.shape())), b->y);
        tape.backward(loss);
        opt->step();
        return true;
    }
    void step() {
        if (!step_in_epoch()) loader->start_epoch(++epoch), step_in_epoch();
    }
};

// Steps of a model trained for `o.trained_steps` Adam steps first. Calls
// alternate between flushing denormals (the default) and keeping them, so the
// note can say what flushing saves in the same run.
Result trained_step(const Options& o, const std::string& name, int batch) {
    RealTraining t(name, batch);
    for (int i = 0; i < o.trained_steps; ++i) t.step();
    Result r(name + "_train_step_trained", batch);
    time_pairs(r, o, [&] { set_flush_denormals(false), t.step(); }, [&] { set_flush_denormals(true), t.step(); });
    set_flush_denormals(true);
    r.gflop = train_gflop(name, batch);
    char note[160];
    std::snprintf(note, sizeof note,
                  "Adam, after %d steps on %s; IEEE denormals kept instead: %.3f ms (flushed/kept %.3f)",
                  o.trained_steps, t.source.c_str(), r.plain_ms, r.ratio_to_plain);
    r.note = note;
    r.ratio_to_plain = 0;  // the ratio is in the note: it is not a statistics case
    return r;
}

// Two whole epochs from a fresh initialisation, as a user trains: the figures
// are for the second, and the note gives both (they should be equal).
Result epochs(const Options&, const std::string& name, int batch) {
    RealTraining t(name, batch);
    double seconds[2] = {0, 0};
    long examples[2] = {0, 0};
    for (int e = 0; e < 2; ++e) {
        t.loader->start_epoch(t.epoch = e);
        const auto t0 = Clock::now();
        while (t.step_in_epoch()) examples[e] += batch;
        seconds[e] = ms_since(t0) * 1e-3;
    }
    Result r(name + "_epoch", batch);
    r.ms = 1e3 * seconds[1] / (examples[1] / batch);
    r.cpu_ms = 0;
    r.gflop = train_gflop(name, batch);
    char note[160];
    std::snprintf(note, sizeof note, "Adam on %s, background loader; examples/s epoch 1: %.0f, epoch 2: %.0f",
                  t.source.c_str(), examples[0] / seconds[0], examples[1] / seconds[1]);
    r.note = note;
    return r;
}

struct Case {
    const char* name;
    std::function<Result(const Options&)> run;
};

// The user-sized convolution layers, batch 64 (apps/compare_pytorch.py runs the same).
Case conv_layer(const char* name, int C, int HW, int OC, int K, int S) {
    return {name, [=](const Options& o) { return conv_layer_case(o, name, 64, C, HW, OC, K, S); }};
}

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"mlp_train_step", [](const Options& o) { return train_step(o, "mlp", 128); }},
        {"mlp_train_step_stats", [](const Options& o) { return train_step_stats(o, "mlp", 128); }},
        {"cnn_train_step", [](const Options& o) { return train_step(o, "cnn", 64); }},
        {"cnn_train_step_stats", [](const Options& o) { return train_step_stats(o, "cnn", 64); }},
        {"cnn_inference", cnn_inference},
        {"conv2d_forward", [](const Options& o) { return conv2d_case(o, false); }},
        {"conv2d_backward", [](const Options& o) { return conv2d_case(o, true); }},
        conv_layer("conv_5x5_32to64_14x14", 32, 14, 64, 5, 1),
        conv_layer("conv_3x3_64to128_7x7", 64, 7, 128, 3, 1),
        conv_layer("conv_3x3s2_64to128_14x14", 64, 14, 128, 3, 2),
        conv_layer("conv_5x5_1to32_28x28", 1, 28, 32, 5, 1),
        conv_layer("conv_3x3_32to64_14x14", 32, 14, 64, 3, 1),  // cnn-bn's second layer
        {"linear_forward", [](const Options& o) { return linear_case(o, false); }},
        {"linear_backward", [](const Options& o) { return linear_case(o, true); }},
        {"sgemm", [](const Options& o) { return sgemm_case(o, "sgemm", 32, 12544, 400); }},
        {"sgemm_1024", [](const Options& o) { return sgemm_case(o, "sgemm_1024", 1024, 1024, 1024); }},
        {"sgemm_per_example", sgemm_per_example},
        {"loader_batch", loader_batch},
        {"mlp_train_step_trained", [](const Options& o) { return trained_step(o, "mlp", 128); }},
        {"cnn_train_step_trained", [](const Options& o) { return trained_step(o, "cnn", 64); }},
        {"mlp_epoch", [](const Options& o) { return epochs(o, "mlp", 128); }},
        {"cnn_epoch", [](const Options& o) { return epochs(o, "cnn", 64); }},
    };
    return all;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string json_line(const Result& r, const Options& o) {
    std::ostringstream s;
    s.precision(4);
    s << "{\"name\": \"" << r.name << "\", \"batch\": " << r.batch << ", \"threads\": " << o.threads
      << ", \"ms_per_step\": " << r.ms << ", \"examples_per_s\": " << (r.batch ? r.batch * 1e3 / r.ms : 0.0)
      << ", \"cpu_ms_per_step\": " << r.cpu_ms;
    if (r.gflop > 0) s << ", \"gflops\": " << r.gflop / (r.ms * 1e-3);
    if (r.ratio_to_plain > 0) s << ", \"ratio_to_plain\": " << r.ratio_to_plain << ", \"plain_ms\": " << r.plain_ms;
    s << ", \"kernels\": \"" << blas_kernels() << "\", \"simd\": \"" << fast::simd_target()
      << "\", \"peak_rss_mb\": " << peak_rss_mb();
    if (!r.note.empty()) s << ", \"note\": \"" << r.note << "\"";
    s << "}";
    return s.str();
}

void print_table_header() {
    std::printf("%-22s %6s %4s %10s %10s %12s %9s %8s  %s\n", "name", "batch", "thr", "ms/step", "cpu ms",
                "examples/s", "GFLOP/s", "x plain", "note");
}

void print_table_row(const Result& r, const Options& o) {
    char gf[16] = "", ratio[16] = "";
    if (r.gflop > 0) std::snprintf(gf, sizeof gf, "%.1f", r.gflop / (r.ms * 1e-3));
    if (r.ratio_to_plain > 0) std::snprintf(ratio, sizeof ratio, "%.3f", r.ratio_to_plain);
    std::printf("%-22s %6d %4d %10.3f %10.3f %12.0f %9s %8s  %s\n", r.name.c_str(), r.batch, o.threads, r.ms,
                r.cpu_ms, r.batch ? r.batch * 1e3 / r.ms : 0.0, gf, ratio, r.note.c_str());
    std::fflush(stdout);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

int int_arg(const std::string& flag, const char* value, int min) {
    char* end = nullptr;
    const long v = std::strtol(value, &end, 10);
    if (*end != '\0' || v < min)
        throw std::invalid_argument(flag + " wants an integer >= " + std::to_string(min) + ", got '" + value + "'");
    return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--table") o.table = true;
        else if (a == "--only" && has_value) o.only = split_commas(argv[++i]);
        else if (a == "--threads" && has_value) o.threads = int_arg(a, argv[++i], 1);
        else if (a == "--repeats" && has_value) o.repeats = int_arg(a, argv[++i], 1);
        else if (a == "--trained-steps" && has_value) o.trained_steps = int_arg(a, argv[++i], 0);
        else if (a == "--help" || a == "-h") {
            std::printf("usage: bench [--table] [--only name,name,...] [--threads N] [--repeats N] [--trained-steps N]\ncases:");
            for (const Case& c : cases()) std::printf(" %s", c.name);
            std::printf("\n");
            std::exit(0);
        } else throw std::invalid_argument("unknown or incomplete argument '" + a + "' (see --help)");
    }
    for (const std::string& name : o.only) {
        const bool known = std::any_of(cases().begin(), cases().end(), [&](const Case& c) { return name == c.name; });
        if (!known) throw std::invalid_argument("--only: unknown case '" + name + "' (see --help for the list)");
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        set_num_threads(o.threads);
        if (o.table) {
            std::printf("OpenBLAS kernels %s, fast floor %s, %d threads, median of up to %d calls after warm-up\n",
                        blas_kernels(), fast::simd_target().c_str(),
                        o.threads, o.repeats);
            print_table_header();
        }
        for (const Case& c : cases()) {
            if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), c.name) == o.only.end()) continue;
            const Result r = c.run(o);
            if (o.table) print_table_row(r, o);
            else std::printf("%s\n", json_line(r, o).c_str()), std::fflush(stdout);
        }
        if (o.table) std::printf("peak RSS %.0f MB\n", peak_rss_mb());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
