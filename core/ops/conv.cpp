// conv2d, and conv2d_relu_max_pool2d (the convolution, ReLU and max pooling as one op).
//
// The reference: per example b, with K = C*KH*KW and OHW = OH*OW,
//   cols_b (K,OHW)  = im2col(x_b): column (oh,ow) holds the K inputs output (oh,ow) sees
//   y_b    (OC,OHW) = W (OC,K) cols_b + bias                    one sgemm
//   dW     (OC,K)  += dy_b (OC,OHW) cols_b^T                     one sgemm
//   dx_b   (C,H,W) += col2im(W^T dy_b)                           one sgemm, folded back
// Statistics: example b's contribution c_b = (dy_b cols_b^T, row sums of dy_b) is the
// per-example gradient up to the loss's scale s, so grad_sq += (s^2/B) c_b^2.
//
// The fast floor (core/fast/conv.h: SIMD kernels for every instruction set, threads
// over the batch, per-thread partial sums) takes over in one line where it applies; the
// naive direct loops at the end are a second reference for the tests.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fast/conv.h"
#include "core/fast/gemm.h"
#include "core/ops_nn.h"

namespace dl {

namespace {

struct ConvSaved {
    ConvGeom g;
    Parameter* weight;    // (OC,C,KH,KW)
    Parameter* bias;      // (OC) or nullptr
    bool fast;            // forward ran on the fast floor (so does backward)
    Tensor cols, dcols;   // reference scratch: one example's (K,OHW)
    Tensor contrib;       // reference scratch with statistics: c_b, (OC,K) then (OC)
    fast::ConvWork work;  // the fast floor's buffers
};

// cols (K,OHW) from one example x (C,H,W):
// cols[(c,kh,kw)][(oh,ow)] = x[c][oh*S + kh - P][ow*S + kw - P], 0 in the padding.
void im2col(float* cols, const float* x, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW();
    for (int c = 0; c < g.C; ++c)
        for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw)
                for (int oh = 0; oh < OH; ++oh)
                    for (int ow = 0; ow < OW; ++ow, ++cols) {
                        const int h = oh * g.S + kh - g.P, w = ow * g.S + kw - g.P;
                        const bool inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
                        *cols = inside ? x[((long)c * g.H + h) * g.W + w] : 0.0f;
                    }
}

// dx (C,H,W) += col2im(dcols (K,OHW)): the transpose of im2col.
void col2im(float* dx, const float* dcols, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW();
    for (int c = 0; c < g.C; ++c)
        for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw)
                for (int oh = 0; oh < OH; ++oh)
                    for (int ow = 0; ow < OW; ++ow, ++dcols) {
                        const int h = oh * g.S + kh - g.P, w = ow * g.S + kw - g.P;
                        if (h >= 0 && h < g.H && w >= 0 && w < g.W) dx[((long)c * g.H + h) * g.W + w] += *dcols;
                    }
}

// y (N,OC,OH,OW) = W im2col(x) + bias, example by example.
void conv2d_forward(ConvSaved& s, float* y, const float* x) {
    const ConvGeom& g = s.g;
    const int K = g.K(), OHW = g.OHW();
    const float* weight = s.weight->value.data();
    s.cols.resize(Shape{K, OHW});
    for (int b = 0; b < g.N; ++b) {
        float* yb = y + (long)b * g.OC * OHW;
        im2col(s.cols.data(), x + (long)b * g.C * g.H * g.W, g);
        for (int o = 0; o < g.OC; ++o)
            std::fill(yb + (long)o * OHW, yb + (long)(o + 1) * OHW, s.bias ? s.bias->value[o] : 0.0f);
        sgemm(false, false, g.OC, OHW, K, 1.0f, weight, K, s.cols.data(), OHW, 1.0f, yb, OHW);
    }
}

// Checks the statistics' batch size and prepares grad_sq of weight and bias.
void begin_conv_statistics(Tape& t, const ConvGeom& g, Parameter* weight, Parameter* bias) {
    if (g.N != t.stats_batch())
        throw std::invalid_argument("statistics: conv2d sees " + std::to_string(g.N) +
                                    " examples but the loss has " + std::to_string(t.stats_batch()) +
                                    "; per-example statistics need one row per example");
    t.begin_param_stats(*weight, "conv2d");
    if (bias) t.begin_param_stats(*bias, "conv2d");
}

// Where the backward of conv2d (and of the fused op) accumulates: dx, dW, db and,
// with statistics, grad_sq and the per-example norms.
fast::ConvGrads conv_grads(Tape& t, Node& n, const ConvGeom& g, Parameter* weight, Parameter* bias) {
    fast::ConvGrads d;
    if (t.statistics()) {
        begin_conv_statistics(t, g, weight, bias);
        const float s2 = t.stats_scale() * t.stats_scale();
        d.dw_sq = weight->grad_sq.data();
        d.db_sq = bias ? bias->grad_sq.data() : nullptr;
        d.sqnorm = t.per_example_sqnorm();
        d.sq_scale = s2 / static_cast<float>(g.N);
        d.norm_scale = s2;
    }
    if (t.node(n.in[0]).needs_grad) d.dx = t.grad_write(n.in[0], d.dx_assign).data();
    d.dw = weight->grad.data();
    d.db = bias ? bias->grad.data() : nullptr;
    return d;
}

// db (OC) += the row sums of dy (OC,OHW), or = when `assign`
void row_sums(float* db, const float* dy, int OC, int OHW, bool assign) {
    for (int o = 0; o < OC; ++o) {
        float sum = 0.0f;
        for (int i = 0; i < OHW; ++i) sum += dy[(long)o * OHW + i];
        db[o] = (assign ? 0.0f : db[o]) + sum;
    }
}

// grad += c;  grad_sq += scale c^2;  returns ||c||^2.  All of n floats. The norm adds
// up in double: a float sum of a million squares would be off by about 1e-4.
float add_contribution(float* grad, float* grad_sq, const float* c, long n, float scale) {
    double norm = 0.0;
    for (long i = 0; i < n; ++i) {
        grad[i] += c[i];
        grad_sq[i] += scale * c[i] * c[i];
        norm += c[i] * c[i];
    }
    return (float)norm;
}

// The reference backward, example by example (see the top of the file).
void reference_backward(ConvSaved& s, const fast::ConvGrads& d, const float* dy, const float* x) {
    const ConvGeom& g = s.g;
    const int K = g.K(), OHW = g.OHW(), OC = g.OC;
    const bool stats = d.dw_sq != nullptr;
    const float* weight = s.weight->value.data();
    if (d.dx && d.dx_assign) std::fill(d.dx, d.dx + (long)g.N * g.C * g.H * g.W, 0.0f);
    s.cols.resize(Shape{K, OHW});
    s.dcols.resize(Shape{K, OHW});
    s.contrib.resize(Shape{OC * K + OC});
    for (int b = 0; b < g.N; ++b) {
        const float* dyb = dy + (long)b * OC * OHW;
        im2col(s.cols.data(), x + (long)b * g.C * g.H * g.W, g);
        // c_b, straight into dW and db; with statistics into contrib first
        float* cw = stats ? s.contrib.data() : d.dw;                // (OC,K)
        float* cb = !d.db ? nullptr : stats ? cw + (long)OC * K : d.db;  // (OC)
        sgemm(false, true, OC, K, OHW, 1.0f, dyb, OHW, s.cols.data(), OHW, stats ? 0.0f : 1.0f, cw, K);
        if (cb) row_sums(cb, dyb, OC, OHW, stats);
        if (stats) {
            float norm = add_contribution(d.dw, d.dw_sq, cw, (long)OC * K, d.sq_scale);
            if (cb) norm += add_contribution(d.db, d.db_sq, cb, OC, d.sq_scale);
            d.sqnorm[b] += d.norm_scale * norm;
        }
        if (d.dx) {
            sgemm(true, false, K, OHW, OC, 1.0f, weight, K, dyb, OHW, 0.0f, s.dcols.data(), OHW);
            col2im(d.dx + (long)b * g.C * g.H * g.W, s.dcols.data(), g);
        }
    }
}

void conv2d_backward(Tape& t, Node& n) {
    ConvSaved& s = n.saved<ConvSaved>();
    const fast::ConvGrads d = conv_grads(t, n, s.g, s.weight, s.bias);
    if (s.fast) return fast::conv2d_backward(d, n.grad->data(), s.weight->value.data(), s.g, s.work);
    reference_backward(s, d, n.grad->data(), t.node(n.in[0]).value->data());
}

void check_conv_args(const Shape& sx, const Parameter& weight, const Parameter* bias, int stride, int padding) {
    const Shape& sw = weight.value.shape();
    if (sw.rank != 4)
        throw std::invalid_argument("conv2d: weight '" + weight.name + "' has shape " + sw.str() +
                                    "; expected (OC, C, KH, KW)");
    if (sx.rank != 4 || sx[1] != sw[1])
        throw std::invalid_argument("conv2d: input " + sx.str() + " does not fit weight '" + weight.name +
                                    "' " + sw.str() + "; expected (N, " + std::to_string(sw[1]) + ", H, W)");
    if (stride < 1 || padding < 0)
        throw std::invalid_argument("conv2d: stride " + std::to_string(stride) + " and padding " +
                                    std::to_string(padding) + " must be >= 1 and >= 0");
    if (sx[2] + 2 * padding < sw[2] || sx[3] + 2 * padding < sw[3])
        throw std::invalid_argument("conv2d: input " + sx.str() + " with padding " + std::to_string(padding) +
                                    " is smaller than the kernel of weight " + sw.str());
    if (bias && (bias->value.rank() != 1 || bias->value.dim(0) != sw[0]))
        throw std::invalid_argument("conv2d: bias '" + bias->name + "' has shape " +
                                    bias->value.shape().str() + "; expected (" + std::to_string(sw[0]) + ")");
}

// Checks the arguments and returns the geometry of conv2d(x, weight, bias, stride, padding).
ConvGeom conv_geom(const Tape& t, Var x, const Parameter& weight, const Parameter* bias, int stride, int padding) {
    const Shape sx = t.shape(x);
    check_conv_args(sx, weight, bias, stride, padding);
    const Shape& sw = weight.value.shape();
    return ConvGeom{sx[0], sx[1], sx[2], sx[3], sw[0], sw[2], sw[3], stride, padding};
}

// ---- conv2d, ReLU and max pooling as one op -------------------------------------------
// Only on the fast floor (which never stores the convolution's output); elsewhere
// the op records conv2d and relu_max_pool2d, with the same numbers.
struct ConvPoolSaved {
    ConvGeom g;
    Parameter* weight;
    Parameter* bias;
    int pool_kernel, pool_stride;
    fast::ConvWork work;  // also keeps each window's maximum for backward
};

void conv_pool_backward(Tape& t, Node& n) {
    ConvPoolSaved& s = n.saved<ConvPoolSaved>();
    const fast::ConvGrads d = conv_grads(t, n, s.g, s.weight, s.bias);
    fast::conv2d_relu_max_pool2d_backward(d, n.grad->data(), s.weight->value.data(), s.g, s.pool_kernel,
                                          s.pool_stride, s.work);
}

}  // namespace

Var conv2d(Tape& t, Var x, Parameter& weight, Parameter* bias, int stride, int padding) {
    const ConvGeom g = conv_geom(t, x, weight, bias, stride, padding);
    Node& n = t.record("conv2d", Shape{g.N, g.OC, g.OH(), g.OW()}, {x}, conv2d_backward, /*owns_params=*/true);
    ConvSaved& s = n.save<ConvSaved>();
    s.g = g;
    s.weight = &weight;
    s.bias = bias;
    weight.ensure_grad();
    if (bias) bias->ensure_grad();
    const float* xv = t.value(x).data();
    const float* b = bias ? bias->value.data() : nullptr;
    s.fast = fast::conv2d_forward(n.out.data(), xv, weight.value.data(), b, g, s.work);
    if (!s.fast) conv2d_forward(s, n.out.data(), xv);
    return Var{t.size() - 1};
}

Var conv2d_relu_max_pool2d(Tape& t, Var x, Parameter& weight, Parameter* bias, int stride, int padding,
                           int pool_kernel, int pool_stride) {
    const ConvGeom g = conv_geom(t, x, weight, bias, stride, padding);
    if (!fast::conv2d_relu_max_pool2d_applies(g, pool_kernel, pool_stride))  // (also explains a bad pool)
        return relu_max_pool2d(t, conv2d(t, x, weight, bias, stride, padding), pool_kernel, pool_stride);
    const Shape out{g.N, g.OC, (g.OH() - pool_kernel) / pool_stride + 1, (g.OW() - pool_kernel) / pool_stride + 1};
    Node& n = t.record("conv2d_relu_max_pool2d", out, {x}, conv_pool_backward, /*owns_params=*/true);
    ConvPoolSaved& s = n.save<ConvPoolSaved>();
    fast::conv2d_relu_max_pool2d_forward(n.out.data(), t.value(x).data(), weight.value.data(),
                                         bias ? bias->value.data() : nullptr, g, pool_kernel, pool_stride, s.work);
    s.g = g;
    s.weight = &weight;
    s.bias = bias;
    s.pool_kernel = pool_kernel;
    s.pool_stride = pool_stride;
    weight.ensure_grad();
    if (bias) bias->ensure_grad();
    return Var{t.size() - 1};
}

// ---- reference kernels: direct convolution ------------------------------------------------

// out (N,OC,OH,OW), inp (N,C,H,W), weight (OC,C,KH,KW), bias (OC) or nullptr
void conv2d_forward_naive(float* out, const float* inp, const float* weight, const float* bias,
                          int N, int C, int H, int W, int OC, int KH, int KW, int stride, int padding) {
    const int OH = (H + 2 * padding - KH) / stride + 1, OW = (W + 2 * padding - KW) / stride + 1;
    for (int b = 0; b < N; ++b)
        for (int o = 0; o < OC; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int c = 0; c < C; ++c)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int h = oh * stride + kh - padding, w = ow * stride + kw - padding;
                                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                                acc += (double)inp[((b * C + c) * H + h) * W + w] *
                                       weight[((o * C + c) * KH + kh) * KW + kw];
                            }
                    out[((b * OC + o) * OH + oh) * OW + ow] = (float)acc;
                }
}

// dinp (N,C,H,W), dweight (OC,C,KH,KW), dbias (OC) or nullptr: all +=;
// dout (N,OC,OH,OW), inp (N,C,H,W), weight (OC,C,KH,KW)
void conv2d_backward_naive(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int N, int C, int H, int W,
                           int OC, int KH, int KW, int stride, int padding) {
    const int OH = (H + 2 * padding - KH) / stride + 1, OW = (W + 2 * padding - KW) / stride + 1;
    for (int b = 0; b < N; ++b)
        for (int o = 0; o < OC; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    const float d = dout[((b * OC + o) * OH + oh) * OW + ow];
                    if (dbias) dbias[o] += d;
                    for (int c = 0; c < C; ++c)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int h = oh * stride + kh - padding, w = ow * stride + kw - padding;
                                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                                const int xi = ((b * C + c) * H + h) * W + w;
                                const int wi = ((o * C + c) * KH + kh) * KW + kw;
                                dinp[xi] += d * weight[wi];
                                dweight[wi] += d * inp[xi];
                            }
                }
}

}  // namespace dl
