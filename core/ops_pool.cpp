// Max and average pooling over square windows, without padding. Windows may
// overlap (stride < kernel): backward then adds several contributions into one
// input element, which is safe because each plane is handled by one thread.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "core/parallel.h"

namespace dl {

namespace {

// iarg: N*C planes, H, W, OH, OW, kernel, stride
struct PoolGeom {
    int planes, H, W, OH, OW, K, S;
};

PoolGeom pool_geom(const Node& n) {
    return PoolGeom{n.iarg[0], n.iarg[1], n.iarg[2], n.iarg[3], n.iarg[4], n.iarg[5], n.iarg[6]};
}

bool pool_parallel(const PoolGeom& g) { return (long)g.planes * g.H * g.W >= (long)kParallelMin; }

// ---- max pool: y (planes,OH,OW) = max over each window of x (planes,H,W) ----------------
// argmax (planes*OH*OW): the index of the maximum inside its input plane (first on ties).
void max_pool_forward(float* y, int* argmax, const float* x, const PoolGeom& g) {
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        const float* xp = x + (long)p * g.H * g.W;
        const long o0 = (long)p * g.OH * g.OW;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                int best = oh * g.S * g.W + ow * g.S;
                float best_v = xp[best];
                for (int kh = 0; kh < g.K; ++kh) {
                    const int row = (oh * g.S + kh) * g.W + ow * g.S;
                    for (int kw = 0; kw < g.K; ++kw)
                        if (xp[row + kw] > best_v) {
                            best_v = xp[row + kw];
                            best = row + kw;
                        }
                }
                y[o0 + oh * g.OW + ow] = best_v;
                argmax[o0 + oh * g.OW + ow] = best;
            }
    }
}

// dx (planes,H,W) += dy (planes,OH,OW) routed to each window's argmax
void max_pool_backward(Tape& t, Node& n) {
    const PoolGeom g = pool_geom(n);
    float* dx = t.grad_acc(n.in[0]).data();
    const float* dy = n.grad->data();
    const int* argmax = n.ints.data();
    const int out_plane = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        float* dxp = dx + (long)p * g.H * g.W;
        const long o0 = (long)p * out_plane;
        for (int i = 0; i < out_plane; ++i) dxp[argmax[o0 + i]] += dy[o0 + i];
    }
}

// ---- average pool: y = mean over each K x K window -------------------------------------
void avg_pool_forward(float* y, const float* x, const PoolGeom& g) {
    const float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        const float* xp = x + (long)p * g.H * g.W;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                float acc = 0.0f;
                for (int kh = 0; kh < g.K; ++kh)
                    for (int kw = 0; kw < g.K; ++kw) acc += xp[(oh * g.S + kh) * g.W + ow * g.S + kw];
                y[((long)p * g.OH + oh) * g.OW + ow] = acc * inv;
            }
    }
}

// dx (planes,H,W) += dy / K^2 spread over each window
void avg_pool_backward(Tape& t, Node& n) {
    const PoolGeom g = pool_geom(n);
    float* dx = t.grad_acc(n.in[0]).data();
    const float* dy = n.grad->data();
    const float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        float* dxp = dx + (long)p * g.H * g.W;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                const float d = dy[((long)p * g.OH + oh) * g.OW + ow] * inv;
                for (int kh = 0; kh < g.K; ++kh)
                    for (int kw = 0; kw < g.K; ++kw) dxp[(oh * g.S + kh) * g.W + ow * g.S + kw] += d;
            }
    }
}

// Checks the arguments and records the node; the caller fills its output.
Node& record_pool(Tape& t, const char* op, Var x, int kernel, int stride, BackwardFn backward) {
    const Shape& s = t.shape(x);
    if (s.rank != 4)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " must be (N, C, H, W)");
    if (kernel < 1 || stride < 1)
        throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(kernel) + " and stride " +
                                    std::to_string(stride) + " must be >= 1");
    if (s[2] < kernel || s[3] < kernel)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " is smaller than the " +
                                    std::to_string(kernel) + "x" + std::to_string(kernel) + " window");
    const int OH = (s[2] - kernel) / stride + 1, OW = (s[3] - kernel) / stride + 1;
    Node& n = t.record(op, Shape{s[0], s[1], OH, OW}, {x}, backward);
    const int args[7] = {s[0] * s[1], s[2], s[3], OH, OW, kernel, stride};
    std::copy(args, args + 7, n.iarg);
    return n;
}

}  // namespace

Var max_pool2d(Tape& t, Var x, int kernel, int stride) {
    Node& n = record_pool(t, "max_pool2d", x, kernel, stride, max_pool_backward);
    n.ints.resize(n.out.size());
    max_pool_forward(n.out.data(), n.ints.data(), t.value(x).data(), pool_geom(n));
    return Var{t.size() - 1};
}

Var avg_pool2d(Tape& t, Var x, int kernel, int stride) {
    Node& n = record_pool(t, "avg_pool2d", x, kernel, stride, avg_pool_backward);
    avg_pool_forward(n.out.data(), t.value(x).data(), pool_geom(n));
    return Var{t.size() - 1};
}

}  // namespace dl
