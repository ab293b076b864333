// Fast max pooling (see core/fast/pool.h): planes split over the threads (each plane is
// one thread's, so overlapping windows may add into one input element), each pooled by
// core/fast/pool_hwy.h.
#include "core/fast/pool.h"

#include "core/fast/dispatch.h"
#include "core/fast/fast.h"
#include "core/fast/parallel.h"
#include "core/fast/pool_hwy.h"

namespace dl::fast {

namespace {
long work_of(const PoolGeom& g) { return (long)g.planes * g.H * g.W; }
}  // namespace

bool max_pool2d_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu) {
    if (!enabled()) return false;
    simd_init();  // reads DL_SIMD here, where a bad value can throw (not inside a parallel region)
    const long out_plane = (long)g.OH * g.OW, in_plane = (long)g.H * g.W;
    parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p)
            max_pool_plane(y + p * out_plane, argmax + p * out_plane, x + p * in_plane, g, relu);
    });
    return true;
}

bool max_pool2d_backward(float* dx, bool assign, const float* dy, const int* argmax, const PoolGeom& g) {
    if (!enabled()) return false;
    simd_init();  // reads DL_SIMD here, where a bad value can throw (not inside a parallel region)
    const long out_plane = (long)g.OH * g.OW, in_plane = (long)g.H * g.W;
    parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p)
            max_unpool_plane(dx + p * in_plane, dy + p * out_plane, argmax + p * out_plane, g, assign);
    });
    return true;
}

}  // namespace dl::fast
