// build/bench_onednn: the fast floor beside Intel's oneDNN (Debian libdnnl-dev, optional:
// the Makefile builds this program only when oneDNN is installed).
//
//   build/bench_onednn                 the cnn step, each cnn convolution, sgemm
//   build/bench_onednn --rounds 9 --repeats 20 --threads 2
//   DL_SIMD=avx2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell build/bench_onednn
//
// 1. The cnn training step (layers/models.cpp, batch 64) built from oneDNN primitives,
//    as a user of oneDNN would write it: each layer's preferred (blocked) layouts, ReLU
//    fused into the convolutions as a post-op, max pooling with its workspace, inner
//    products, softmax cross-entropy and the SGD update by hand. Ours: build/bench's
//    cnn_train_step (tape, fused conv + ReLU + pool). The two run alternately, round by
//    round; the ratio is taken round by round and the median quoted.
// 2. Each convolution of cnn, forward and backward, alone: oneDNN's primitives on its
//    preferred layouts (reorders outside the timing), ours fast::conv2d_forward and
//    fast::conv2d_backward (core/fast/conv.h) on NCHW arrays, both with bias. GFLOP/s.
// 3. OpenBLAS sgemm at 1024^3: the machine's practical peak, to quote beside them.
// Times are medians of single calls after a warm-up; the machine is noisy, so compare
// within a round.
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/blas_setup.h"
#include "core/core.h"
#include "core/fast/conv.h"
#include "core/fast/dispatch.h"
#include "core/fast/gemm.h"
#include "core/parallel.h"
#include "layers/models.h"
#include "optim/sgd.h"

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    int rounds = 7, repeats = 20, threads = 2;
};

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median ms of single calls of f after a few warm-up calls.
double time_ms(const std::function<void()>& f, int repeats) {
    for (int i = 0; i < std::max(2, repeats / 5); ++i) f();
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = Clock::now();
        f();
        ms.push_back(ms_since(t0));
    }
    return median(ms);
}

void fill_random(float* p, size_t n, unsigned seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    for (size_t i = 0; i < n; ++i) p[i] = normal(rng);
}

float* data(const memory& m) { return static_cast<float*>(m.get_data_handle()); }
size_t floats(const memory::desc& d) { return d.get_size() / sizeof(float); }

// ---- the cnn step from oneDNN primitives -----------------------------------------------------
// Primitives run on one stream; each entry is a primitive and its arguments.
struct Step {
    std::vector<std::pair<primitive, std::unordered_map<int, memory>>> ops;
    void add(primitive p, std::unordered_map<int, memory> args) { ops.emplace_back(std::move(p), std::move(args)); }
    void run(stream& s) {
        for (auto& [p, args] : ops) p.execute(s, args);
    }
};

// A parameter: value and gradient in the layout the primitives chose; `grad_in` is where
// the backward-weights primitive writes it (reordered into `grad` when the layouts differ).
struct Param {
    memory value, grad, grad_in;
};

class OnednnCnn {
public:
    OnednnCnn(engine& eng, int batch) : eng_(eng), N_(batch), labels_(batch) {
        for (int i = 0; i < N_; ++i) labels_[i] = (i * 7) % 10;
        build();
    }

    // One training step: forward, loss, backward, SGD.
    void step(stream& s) {
        fwd_.run(s);
        s.wait();
        softmax_cross_entropy();
        bwd_.run(s);
        s.wait();
        sgd();
    }

private:
    memory mem(const memory::desc& d) { return memory(d, eng_); }

    // dst = src in dst's layout (a reorder added to `step`), or src itself when they agree.
    memory convert(Step& step, const memory& src, const memory::desc& want) {
        if (src.get_desc() == want) return src;
        memory dst = mem(want);
        step.add(reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
        return dst;
    }

    Param param(const memory::desc& value_desc, unsigned seed, float scale) {
        Param p{mem(value_desc), mem(value_desc), {}};
        fill_random(data(p.value), floats(value_desc), seed, scale);
        return p;
    }

    // The gradient of p as `bwd_desc` (the backward primitive's choice) requires.
    memory grad_target(Param& p, const memory::desc& bwd_desc) {
        p.grad_in = bwd_desc == p.grad.get_desc() ? p.grad : mem(bwd_desc);
        return p.grad_in;
    }
    void grad_reorders(Step& step) {
        for (Param* p : params_)
            if (p->grad_in.get_data_handle() != p->grad.get_data_handle())
                step.add(reorder(p->grad_in, p->grad), {{DNNL_ARG_FROM, p->grad_in}, {DNNL_ARG_TO, p->grad}});
    }

    struct Conv {
        convolution_forward::primitive_desc fwd;
        memory src, dst;  // src in the convolution's layout; dst after its fused ReLU
        Param w, b;
    };
    struct Pool {
        pooling_forward::primitive_desc fwd;
        memory src, dst, workspace;
    };

    // Convolution (stride 1, "same" padding) with ReLU fused, from `src`.
    Conv conv(const memory& src, int C, int OC, int HW, int K, unsigned seed) {
        const memory::dims s{1, 1}, pad{K / 2, K / 2};
        const memory::desc src_md({N_, C, HW, HW}, dt::f32, tag::any), w_md({OC, C, K, K}, dt::f32, tag::any),
            b_md({OC}, dt::f32, tag::x), dst_md({N_, OC, HW, HW}, dt::f32, tag::any);
        post_ops po;
        po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
        primitive_attr attr;
        attr.set_post_ops(po);
        Conv c;
        c.fwd = convolution_forward::primitive_desc(
            convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md, w_md, b_md,
                                      dst_md, s, pad, pad),
            attr, eng_);
        c.src = convert(fwd_, src, c.fwd.src_desc());
        c.w = param(c.fwd.weights_desc(), seed, std::sqrt(2.0f / (C * K * K)));
        c.b = param(c.fwd.bias_desc(), seed + 1, 0.01f);
        c.dst = mem(c.fwd.dst_desc());
        fwd_.add(convolution_forward(c.fwd), {{DNNL_ARG_SRC, c.src},
                                               {DNNL_ARG_WEIGHTS, c.w.value},
                                               {DNNL_ARG_BIAS, c.b.value},
                                               {DNNL_ARG_DST, c.dst}});
        return c;
    }

    Pool pool(const memory& src, int C, int HW) {
        const memory::dims k{2, 2}, pad{0, 0};
        const memory::desc dst_md({N_, C, HW / 2, HW / 2}, dt::f32, tag::any);
        Pool p;
        p.fwd = pooling_forward::primitive_desc(
            pooling_forward::desc(prop_kind::forward_training, algorithm::pooling_max, src.get_desc(), dst_md, k, k,
                                  pad, pad),
            eng_);
        p.src = src;
        p.dst = mem(p.fwd.dst_desc());
        p.workspace = mem(p.fwd.workspace_desc());
        fwd_.add(pooling_forward(p.fwd),
                 {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, p.dst}, {DNNL_ARG_WORKSPACE, p.workspace}});
        return p;
    }

    // Backward of conv (with its ReLU) from the gradient of its output `ddst`; returns
    // the gradient of its input, or nothing when `need_dsrc` is false.
    memory conv_backward(Conv& c, const memory& ddst_in, bool need_dsrc) {
        // ReLU's backward from its output (the convolution's dst).
        const auto relu_hint = eltwise_forward::primitive_desc(
            eltwise_forward::desc(prop_kind::forward_training, algorithm::eltwise_relu_use_dst_for_bwd,
                                  c.dst.get_desc(), 0.0f, 0.0f),
            eng_);
        const auto relu_bwd = eltwise_backward::primitive_desc(
            eltwise_backward::desc(algorithm::eltwise_relu_use_dst_for_bwd, c.dst.get_desc(), c.dst.get_desc(), 0.0f,
                                   0.0f),
            eng_, relu_hint);
        memory ddst_relu = convert(bwd_, ddst_in, relu_bwd.diff_dst_desc());
        memory ddst = mem(relu_bwd.diff_src_desc());
        bwd_.add(eltwise_backward(relu_bwd),
                 {{DNNL_ARG_DST, c.dst}, {DNNL_ARG_DIFF_DST, ddst_relu}, {DNNL_ARG_DIFF_SRC, ddst}});
        const auto& f = c.fwd;
        const memory::dims s{1, 1}, pad{f.weights_desc().dims()[2] / 2, f.weights_desc().dims()[3] / 2};
        const memory::desc any_w(f.weights_desc().dims(), dt::f32, tag::any);
        const auto bw = convolution_backward_weights::primitive_desc(
            convolution_backward_weights::desc(algorithm::convolution_direct, f.src_desc(), any_w, f.bias_desc(),
                                               ddst.get_desc(), s, pad, pad),
            eng_, f);
        memory ddst_w = convert(bwd_, ddst, bw.diff_dst_desc());
        bwd_.add(convolution_backward_weights(bw), {{DNNL_ARG_SRC, c.src},
                                                     {DNNL_ARG_DIFF_DST, ddst_w},
                                                     {DNNL_ARG_DIFF_WEIGHTS, grad_target(c.w, bw.diff_weights_desc())},
                                                     {DNNL_ARG_DIFF_BIAS, grad_target(c.b, bw.diff_bias_desc())}});
        if (!need_dsrc) return {};
        // The weights in the layout backward-data wants (its fast kernels take another
        // blocking than forward's; with forward's they fall back to a reference loop):
        // reordered on every step, as the weights change.
        const auto bd = convolution_backward_data::primitive_desc(
            convolution_backward_data::desc(algorithm::convolution_direct, f.src_desc(), any_w, ddst.get_desc(), s, pad,
                                            pad),
            eng_, f);
        memory dsrc = mem(bd.diff_src_desc());
        bwd_.add(convolution_backward_data(bd), {{DNNL_ARG_DIFF_DST, convert(bwd_, ddst, bd.diff_dst_desc())},
                                                  {DNNL_ARG_WEIGHTS, convert(bwd_, c.w.value, bd.weights_desc())},
                                                  {DNNL_ARG_DIFF_SRC, dsrc}});
        return dsrc;
    }

    memory pool_backward(Pool& p, const memory& ddst_in) {
        const memory::dims k{2, 2}, pad{0, 0};
        const auto pd = pooling_backward::primitive_desc(
            pooling_backward::desc(algorithm::pooling_max, p.src.get_desc(), p.dst.get_desc(), k, k, pad, pad), eng_,
            p.fwd);
        memory dsrc = mem(pd.diff_src_desc());
        bwd_.add(pooling_backward(pd), {{DNNL_ARG_DIFF_DST, convert(bwd_, ddst_in, pd.diff_dst_desc())},
                                        {DNNL_ARG_WORKSPACE, p.workspace},
                                        {DNNL_ARG_DIFF_SRC, dsrc}});
        return dsrc;
    }

    struct Dense {
        inner_product_forward::primitive_desc fwd;
        memory src, dst;
        Param w, b;
    };

    // Inner product (ReLU fused when `relu`) from src, whose logical shape is `dims`.
    Dense dense(const memory& src, const memory::dims& dims, int out, bool relu, unsigned seed) {
        memory::dims wdims = dims;
        wdims[0] = out;
        const memory::desc src_md(dims, dt::f32, tag::any), w_md(wdims, dt::f32, tag::any),
            b_md({out}, dt::f32, tag::x), dst_md({N_, out}, dt::f32, tag::nc);
        primitive_attr attr;
        if (relu) {
            post_ops po;
            po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
            attr.set_post_ops(po);
        }
        Dense d;
        d.fwd = inner_product_forward::primitive_desc(
            inner_product_forward::desc(prop_kind::forward_training, src_md, w_md, b_md, dst_md), attr, eng_);
        d.src = convert(fwd_, src, d.fwd.src_desc());
        long fan_in = 1;
        for (size_t i = 1; i < dims.size(); ++i) fan_in *= dims[i];
        d.w = param(d.fwd.weights_desc(), seed, std::sqrt(2.0f / fan_in));
        d.b = param(d.fwd.bias_desc(), seed + 1, 0.01f);
        d.dst = mem(d.fwd.dst_desc());
        fwd_.add(inner_product_forward(d.fwd), {{DNNL_ARG_SRC, d.src},
                                                 {DNNL_ARG_WEIGHTS, d.w.value},
                                                 {DNNL_ARG_BIAS, d.b.value},
                                                 {DNNL_ARG_DST, d.dst}});
        return d;
    }

    memory dense_backward(Dense& d, const memory& ddst_in, bool relu, bool need_dsrc) {
        memory ddst = ddst_in;
        if (relu) {
            const auto hint = eltwise_forward::primitive_desc(
                eltwise_forward::desc(prop_kind::forward_training, algorithm::eltwise_relu_use_dst_for_bwd,
                                      d.dst.get_desc(), 0.0f, 0.0f),
                eng_);
            const auto pd = eltwise_backward::primitive_desc(
                eltwise_backward::desc(algorithm::eltwise_relu_use_dst_for_bwd, d.dst.get_desc(), d.dst.get_desc(),
                                       0.0f, 0.0f),
                eng_, hint);
            ddst = mem(pd.diff_src_desc());
            bwd_.add(eltwise_backward(pd), {{DNNL_ARG_DST, d.dst}, {DNNL_ARG_DIFF_DST, ddst_in}, {DNNL_ARG_DIFF_SRC, ddst}});
        }
        const memory::desc any_w(d.fwd.weights_desc().dims(), dt::f32, tag::any);
        const auto bw = inner_product_backward_weights::primitive_desc(
            inner_product_backward_weights::desc(d.fwd.src_desc(), any_w, d.fwd.bias_desc(), ddst.get_desc()), eng_,
            d.fwd);
        bwd_.add(inner_product_backward_weights(bw), {{DNNL_ARG_SRC, d.src},
                                                       {DNNL_ARG_DIFF_DST, ddst},
                                                       {DNNL_ARG_DIFF_WEIGHTS, grad_target(d.w, bw.diff_weights_desc())},
                                                       {DNNL_ARG_DIFF_BIAS, grad_target(d.b, bw.diff_bias_desc())}});
        if (!need_dsrc) return {};
        const auto bd = inner_product_backward_data::primitive_desc(
            inner_product_backward_data::desc(d.fwd.src_desc(), d.fwd.weights_desc(), ddst.get_desc()), eng_, d.fwd);
        memory dsrc = mem(bd.diff_src_desc());
        bwd_.add(inner_product_backward_data(bd),
                 {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, d.w.value}, {DNNL_ARG_DIFF_SRC, dsrc}});
        return dsrc;
    }

    void build() {
        x_ = mem(memory::desc({N_, 1, 28, 28}, dt::f32, tag::nchw));
        fill_random(data(x_), floats(x_.get_desc()), 2, 1.0f);
        c1_ = conv(x_, 1, 16, 28, 5, 10);
        p1_ = pool(c1_.dst, 16, 28);
        c2_ = conv(p1_.dst, 16, 32, 14, 5, 20);
        p2_ = pool(c2_.dst, 32, 14);
        d1_ = dense(p2_.dst, {N_, 32, 7, 7}, 128, true, 30);
        d2_ = dense(d1_.dst, {N_, 128}, 10, false, 40);
        params_ = {&c1_.w, &c1_.b, &c2_.w, &c2_.b, &d1_.w, &d1_.b, &d2_.w, &d2_.b};

        dlogits_ = mem(d2_.dst.get_desc());
        memory d = dense_backward(d2_, dlogits_, false, true);
        d = dense_backward(d1_, d, true, true);
        d = pool_backward(p2_, d);
        d = conv_backward(c2_, d, true);
        d = pool_backward(p1_, d);
        conv_backward(c1_, d, false);
        grad_reorders(bwd_);
    }

    // dlogits = (softmax(logits) - onehot(label)) / N
    void softmax_cross_entropy() {
        const float* z = data(d2_.dst);
        float* g = data(dlogits_);
        for (int i = 0; i < N_; ++i) {
            const float* zi = z + i * 10;
            const float m = *std::max_element(zi, zi + 10);
            float sum = 0.0f;
            for (int j = 0; j < 10; ++j) sum += std::exp(zi[j] - m);
            for (int j = 0; j < 10; ++j) g[i * 10 + j] = (std::exp(zi[j] - m) / sum - (j == labels_[i])) / N_;
        }
    }

    void sgd() {
        for (Param* p : params_) {
            float* w = data(p->value);
            const float* g = data(p->grad);
            const size_t n = floats(p->value.get_desc());
#pragma omp parallel for if (n > 32768)
            for (size_t i = 0; i < n; ++i) w[i] -= 0.01f * g[i];
        }
    }

    engine& eng_;
    int N_;
    std::vector<int> labels_;
    Step fwd_, bwd_;
    memory x_, dlogits_;
    Conv c1_, c2_;
    Pool p1_, p2_;
    Dense d1_, d2_;
    std::vector<Param*> params_;
};

// ---- ours: build/bench's cnn_train_step -------------------------------------------------------
struct OurCnn {
    std::unique_ptr<dl::Module> model = dl::make_model("cnn", 1, 28, 28, 10, 1);
    dl::SGD opt{model->parameters(), dl::SGDOptions{0.01f}};
    dl::Tensor x{dl::Shape{64, 1, 28, 28}};
    std::vector<int> y = std::vector<int>(64);
    dl::Tape tape;

    OurCnn() {
        fill_random(x.data(), x.size(), 2, 1.0f);
        for (int i = 0; i < 64; ++i) y[i] = (i * 7) % 10;
    }
    void step() {
        tape.reset();
        opt.zero_grad();
        dl::Var loss = dl::softmax_cross_entropy(tape, model->forward(tape, tape.input(x.data(), x.shape())), y);
        tape.backward(loss);
        opt.step();
    }
};

// ---- one convolution layer: oneDNN's primitives and ours ---------------------------------------
struct LayerTimes {
    double fwd_ms, bwd_ms;
};

LayerTimes onednn_layer(engine& eng, stream& s, const dl::ConvGeom& g, bool need_dx, int repeats) {
    const int N = g.N;
    const memory::dims st{g.S, g.S}, pad{g.P, g.P};
    const memory::desc src_any({N, g.C, g.H, g.W}, dt::f32, tag::any), w_any({g.OC, g.C, g.KH, g.KW}, dt::f32, tag::any),
        b_md({g.OC}, dt::f32, tag::x), dst_any({N, g.OC, g.OH(), g.OW()}, dt::f32, tag::any);
    const auto fwd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_any, w_any, b_md,
                                  dst_any, st, pad, pad),
        eng);
    memory src(fwd.src_desc(), eng), w(fwd.weights_desc(), eng), b(b_md, eng), dst(fwd.dst_desc(), eng);
    fill_random(data(src), floats(fwd.src_desc()), 1, 1.0f);
    fill_random(data(w), floats(fwd.weights_desc()), 2, 0.1f);
    fill_random(data(b), g.OC, 3, 0.1f);
    convolution_forward conv(fwd);
    LayerTimes t{};
    t.fwd_ms = time_ms(
        [&] {
            conv.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}});
            s.wait();
        },
        repeats);
    const auto bw = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_direct, fwd.src_desc(), w_any, b_md, fwd.dst_desc(),
                                           st, pad, pad),
        eng, fwd);
    const auto bd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, fwd.src_desc(), w_any, fwd.dst_desc(), st, pad,
                                        pad),
        eng, fwd);
    memory ddst(fwd.dst_desc(), eng), dw(bw.diff_weights_desc(), eng), db(b_md, eng), dsrc(bd.diff_src_desc(), eng);
    memory wd = w;  // the weights as backward-data wants them (reordered outside the timing)
    if (bd.weights_desc() != w.get_desc()) wd = memory(bd.weights_desc(), eng), reorder(w, wd).execute(s, w, wd);
    fill_random(data(ddst), floats(fwd.dst_desc()), 4, 1.0f);
    memory ddst_w = ddst, ddst_d = ddst;  // the layouts each backward wants (reordered outside the timing)
    if (bw.diff_dst_desc() != ddst.get_desc()) ddst_w = memory(bw.diff_dst_desc(), eng), reorder(ddst, ddst_w).execute(s, ddst, ddst_w);
    if (bd.diff_dst_desc() != ddst.get_desc()) ddst_d = memory(bd.diff_dst_desc(), eng), reorder(ddst, ddst_d).execute(s, ddst, ddst_d);
    convolution_backward_weights convw(bw);
    convolution_backward_data convd(bd);
    t.bwd_ms = time_ms(
        [&] {
            convw.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst_w}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, db}});
            if (need_dx) convd.execute(s, {{DNNL_ARG_DIFF_DST, ddst_d}, {DNNL_ARG_WEIGHTS, wd}, {DNNL_ARG_DIFF_SRC, dsrc}});
            s.wait();
        },
        repeats);
    return t;
}

LayerTimes our_layer(const dl::ConvGeom& g, bool need_dx, int repeats) {
    namespace fast = dl::fast;
    const int N = g.N;
    std::vector<float> x((size_t)N * g.C * g.H * g.W), w((size_t)g.OC * g.K()), b(g.OC), y((size_t)N * g.OC * g.OHW());
    std::vector<float> dy(y.size()), dx(x.size()), dw(w.size()), db(b.size());
    fill_random(x.data(), x.size(), 1, 1.0f);
    fill_random(w.data(), w.size(), 2, 0.1f);
    fill_random(b.data(), b.size(), 3, 0.1f);
    fill_random(dy.data(), dy.size(), 4, 1.0f);
    fast::ConvWork work;
    LayerTimes t{};
    t.fwd_ms = time_ms([&] { fast::conv2d_forward(y.data(), x.data(), w.data(), b.data(), g, work); }, repeats);
    fast::ConvGrads out;
    out.dx = need_dx ? dx.data() : nullptr, out.dx_assign = true, out.dw = dw.data(), out.db = db.data();
    t.bwd_ms = time_ms([&] { fast::conv2d_backward(out, dy.data(), w.data(), g, work); }, repeats);
    return t;
}

const char* isa_name(cpu_isa isa) {
    switch (isa) {
        case cpu_isa::avx2: return "avx2";
        case cpu_isa::avx512_core: return "avx512_core";
        case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case cpu_isa::avx512_core_amx: return "avx512_core_amx";
        case cpu_isa::avx2_vnni: return "avx2_vnni";
        default: return "other";
    }
}

int int_arg(const char* flag, const char* v) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end || n < 1) throw std::invalid_argument(std::string(flag) + " wants an integer >= 1, got '" + v + "'");
    return (int)n;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options o;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--rounds" && i + 1 < argc) o.rounds = int_arg("--rounds", argv[++i]);
            else if (a == "--repeats" && i + 1 < argc) o.repeats = int_arg("--repeats", argv[++i]);
            else if (a == "--threads" && i + 1 < argc) o.threads = int_arg("--threads", argv[++i]);
            else if (a == "--help" || a == "-h") {
                std::printf("usage: bench_onednn [--rounds N] [--repeats N] [--threads N]\n");
                return 0;
            } else throw std::invalid_argument("unknown or incomplete argument '" + a + "' (see --help)");
        }
        dl::set_num_threads(o.threads);
        engine eng(engine::kind::cpu, 0);
        stream s(eng);
        std::printf("oneDNN %d.%d.%d (%s), ours %s, OpenBLAS %s, %d threads\n", dnnl_version()->major,
                    dnnl_version()->minor, dnnl_version()->patch, isa_name(get_effective_cpu_isa()),
                    dl::fast::simd_target().c_str(), dl::blas_kernels(), o.threads);

        // 1. The cnn step, alternated round by round.
        OnednnCnn theirs(eng, 64);
        OurCnn ours;
        std::vector<double> t_ours, t_theirs, ratio;
        for (int r = 0; r < o.rounds; ++r) {
            t_ours.push_back(time_ms([&] { ours.step(); }, o.repeats));
            t_theirs.push_back(time_ms([&] { theirs.step(s); }, o.repeats));
            ratio.push_back(t_ours.back() / t_theirs.back());
            std::printf("round %d: cnn step ours %.3f ms, oneDNN %.3f ms, ours/oneDNN %.3f\n", r, t_ours.back(),
                        t_theirs.back(), ratio.back());
            std::fflush(stdout);
        }
        std::printf("cnn step (batch 64): ours %.3f ms, oneDNN %.3f ms (medians); ours/oneDNN time %.3f (median of %d rounds)\n",
                    median(t_ours), median(t_theirs), median(ratio), o.rounds);

        // 2. Each convolution of cnn alone.
        struct Layer {
            const char* name;
            dl::ConvGeom g;
            bool need_dx;
        };
        const Layer layers[] = {{"conv1 1->16 5x5 28x28 (dW, db)", {64, 1, 28, 28, 16, 5, 5, 1, 2}, false},
                                {"conv2 16->32 5x5 14x14 (dx, dW, db)", {64, 16, 14, 14, 32, 5, 5, 1, 2}, true}};
        for (const Layer& l : layers) {
            std::vector<double> of, ob, tf, tb;
            for (int r = 0; r < o.rounds; ++r) {
                const LayerTimes a = our_layer(l.g, l.need_dx, o.repeats);
                const LayerTimes b = onednn_layer(eng, s, l.g, l.need_dx, o.repeats);
                of.push_back(a.fwd_ms), ob.push_back(a.bwd_ms), tf.push_back(b.fwd_ms), tb.push_back(b.bwd_ms);
            }
            const double gf = 2.0 * 64 * l.g.OC * l.g.K() * l.g.OHW() * 1e-9, gb = gf * (l.need_dx ? 2 : 1);
            std::printf("%s: forward ours %.3f ms (%.0f GFLOP/s), oneDNN %.3f ms (%.0f GFLOP/s), ours %.0f%% of oneDNN's "
                        "GFLOP/s\n",
                        l.name, median(of), gf / median(of) * 1e3, median(tf), gf / median(tf) * 1e3,
                        100.0 * median(tf) / median(of));
            std::printf("%s: backward ours %.3f ms (%.0f GFLOP/s), oneDNN %.3f ms (%.0f GFLOP/s), ours %.0f%% of "
                        "oneDNN's GFLOP/s\n",
                        l.name, median(ob), gb / median(ob) * 1e3, median(tb), gb / median(tb) * 1e3,
                        100.0 * median(tb) / median(ob));
            std::fflush(stdout);
        }

        // 3. The sgemm bound.
        const int n = 1024;
        std::vector<float> A((size_t)n * n), B((size_t)n * n), C((size_t)n * n);
        fill_random(A.data(), A.size(), 5, 1.0f);
        fill_random(B.data(), B.size(), 6, 1.0f);
        const double ms = time_ms([&] { dl::sgemm(false, false, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n); },
                                  o.repeats);
        std::printf("sgemm 1024^3 (OpenBLAS %s): %.3f ms, %.0f GFLOP/s: the practical peak\n", dl::blas_kernels(), ms,
                    2.0 * n * n * n / (ms * 1e-3) * 1e-9);
    } catch (const dnnl::error& e) {
        std::fprintf(stderr, "bench_onednn: oneDNN: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_onednn: %s\n", e.what());
        return 1;
    }
    return 0;
}
