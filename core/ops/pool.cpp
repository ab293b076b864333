// Max and average pooling over square windows, without padding; and
// relu_max_pool2d, max pooling of relu(x) in one pass. Windows may overlap
// (stride < kernel): backward then adds several contributions into one input
// element.
//
// x (N,C,H,W) is viewed as N*C planes (H,W), pooled one by one (core/geometry.h's
// PoolGeom). The fast floor (core/fast/pool.h: threads over the planes, AVX-512 for
// 2x2 windows) takes over max pooling in one line.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fast/parallel.h"
#include "core/fast/pool.h"
#include "core/ops_nn.h"

namespace dl {

namespace {

// ---- max pool: y (planes,OH,OW) = max over each window of x (planes,H,W) ----------------
// argmax (planes,OH,OW): the index of the maximum inside its input plane (the first on
// ties, scanning the window row by row); dx at that index receives dy. A NaN in a
// window makes its maximum NaN, as IEEE arithmetic would (the first NaN is the argmax).
struct MaxPoolSaved {
    PoolGeom g;
    std::vector<int> argmax;
};

// Whether v replaces best as the window's maximum so far: larger, or the first NaN.
// (!(v <= best) holds for a larger v and for a NaN v; a NaN best is never replaced.)
bool takes_over(float v, float best) { return !(v <= best) && best == best; }

// One plane: y (OH,OW), argmax (OH,OW) from x (H,W).
void max_pool_plane(float* y, int* argmax, const float* x, const PoolGeom& g) {
    for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
            int best = oh * g.S * g.W + ow * g.S;
            float best_v = x[best];
            for (int kh = 0; kh < g.K; ++kh) {
                const int row = (oh * g.S + kh) * g.W + ow * g.S;
                for (int kw = 0; kw < g.K; ++kw)
                    if (takes_over(x[row + kw], best_v)) {
                        best_v = x[row + kw];
                        best = row + kw;
                    }
            }
            y[oh * g.OW + ow] = best_v;
            argmax[oh * g.OW + ow] = best;
        }
}

// With `relu`: y = max(0, max pool of x), the same as pooling relu(x) (max commutes
// with the increasing ReLU). Where no value of the window is positive the result is
// the ReLU's 0, with zero derivative: argmax -1. NaN stays NaN.
void max_pool_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu) {
    if (fast::max_pool2d_forward(y, argmax, x, g, relu)) return;
    const long in_plane = (long)g.H * g.W, out_plane = (long)g.OH * g.OW;
    for (int p = 0; p < g.planes; ++p) max_pool_plane(y + p * out_plane, argmax + p * out_plane, x + p * in_plane, g);
    if (!relu) return;
    for (long i = 0; i < g.planes * out_plane; ++i)
        if (y[i] <= 0.0f) y[i] = 0.0f, argmax[i] = -1;
}

// dx (planes,H,W) += dy (planes,OH,OW) routed to each window's argmax (none for -1)
void max_pool_backward(Tape& t, Node& n) {
    const MaxPoolSaved& s = n.saved<MaxPoolSaved>();
    const PoolGeom& g = s.g;
    bool assign;  // the first write of dx: every element must be set
    float* dx = t.grad_write(n.in[0], assign).data();
    const float* dy = n.grad->data();
    if (fast::max_pool2d_backward(dx, assign, dy, s.argmax.data(), g)) return;
    const long in_plane = (long)g.H * g.W, out_plane = (long)g.OH * g.OW;
    if (assign) std::fill(dx, dx + g.planes * in_plane, 0.0f);
    for (int p = 0; p < g.planes; ++p)
        for (long i = 0; i < out_plane; ++i) {
            const int a = s.argmax[p * out_plane + i];
            if (a >= 0) dx[p * in_plane + a] += dy[p * out_plane + i];
        }
}

// ---- average pool: y = mean over each K x K window -------------------------------------
// The planes are independent: fast::parallel_for splits them over the threads.
struct AvgPoolSaved {
    PoolGeom g;
};

long work_of(const PoolGeom& g) { return (long)g.planes * g.H * g.W; }

// y (planes,OH,OW) from x (planes,H,W)
void avg_pool_forward(float* y, const float* x, const PoolGeom& g) {
    const float inv = 1.0f / (float)(g.K * g.K);
    fast::parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p) {
            const float* xp = x + p * g.H * g.W;
            for (int oh = 0; oh < g.OH; ++oh)
                for (int ow = 0; ow < g.OW; ++ow) {
                    float acc = 0.0f;
                    for (int kh = 0; kh < g.K; ++kh)
                        for (int kw = 0; kw < g.K; ++kw) acc += xp[(oh * g.S + kh) * g.W + ow * g.S + kw];
                    y[(p * g.OH + oh) * g.OW + ow] = acc * inv;
                }
        }
    });
}

// dx (planes,H,W) += dy / K^2 spread over each window
void avg_pool_backward(Tape& t, Node& n) {
    const PoolGeom& g = n.saved<AvgPoolSaved>().g;
    bool assign;
    float* dx = t.grad_write(n.in[0], assign).data();
    const float* dy = n.grad->data();
    const float inv = 1.0f / (float)(g.K * g.K);
    fast::parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p) {
            float* dxp = dx + p * g.H * g.W;
            if (assign) std::fill(dxp, dxp + (long)g.H * g.W, 0.0f);
            for (int oh = 0; oh < g.OH; ++oh)
                for (int ow = 0; ow < g.OW; ++ow) {
                    const float d = dy[(p * g.OH + oh) * g.OW + ow] * inv;
                    for (int kh = 0; kh < g.K; ++kh)
                        for (int kw = 0; kw < g.K; ++kw) dxp[(oh * g.S + kh) * g.W + ow * g.S + kw] += d;
                }
        }
    });
}

// Checks the arguments, records the node and returns the geometry; the caller
// saves it and fills the output.
PoolGeom record_pool(Tape& t, const char* op, Var x, int kernel, int stride, BackwardFn backward) {
    const Shape s = t.shape(x);
    if (s.rank != 4)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " must be (N, C, H, W)");
    if (kernel < 1 || stride < 1)
        throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(kernel) + " and stride " +
                                    std::to_string(stride) + " must be >= 1");
    if (s[2] < kernel || s[3] < kernel)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " is smaller than the " +
                                    std::to_string(kernel) + "x" + std::to_string(kernel) + " window");
    const PoolGeom g = pool_geom(s[0] * s[1], s[2], s[3], kernel, stride);
    t.record(op, Shape{s[0], s[1], g.OH, g.OW}, {x}, backward);
    return g;
}

Var max_pool(Tape& t, const char* op, Var x, int kernel, int stride, bool relu) {
    const PoolGeom g = record_pool(t, op, x, kernel, stride, max_pool_backward);
    Node& n = t.node(Var{t.size() - 1});
    MaxPoolSaved& s = n.save<MaxPoolSaved>();
    s.g = g;
    s.argmax.resize(n.out.size());
    max_pool_forward(n.out.data(), s.argmax.data(), t.value(x).data(), g, relu);
    return Var{t.size() - 1};
}

}  // namespace

Var max_pool2d(Tape& t, Var x, int kernel, int stride) { return max_pool(t, "max_pool2d", x, kernel, stride, false); }

Var relu_max_pool2d(Tape& t, Var x, int kernel, int stride) {
    return max_pool(t, "relu_max_pool2d", x, kernel, stride, true);
}

Var avg_pool2d(Tape& t, Var x, int kernel, int stride) {
    const PoolGeom g = record_pool(t, "avg_pool2d", x, kernel, stride, avg_pool_backward);
    Node& n = t.node(Var{t.size() - 1});
    n.save<AvgPoolSaved>().g = g;
    avg_pool_forward(n.out.data(), t.value(x).data(), g);
    return Var{t.size() - 1};
}

void max_pool2d_forward_naive(float* out, int* argmax, const float* inp, int planes, int H, int W, int kernel,
                              int stride) {
    const PoolGeom g = pool_geom(planes, H, W, kernel, stride);
    for (int p = 0; p < planes; ++p)
        max_pool_plane(out + (long)p * g.OH * g.OW, argmax + (long)p * g.OH * g.OW, inp + (long)p * H * W, g);
}

}  // namespace dl
