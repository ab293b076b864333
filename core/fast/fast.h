// The fast floor: SIMD kernels, fused kernels, per-thread partial sums and the
// threading helpers, beside the reference ops of core/ops/.
//
// A reference op hands over to the fast floor in one line where a fast kernel
// applies (`if (fast::max_pool2d_forward(...)) return;`), and keeps its own plain
// loops for every shape the fast floor does not take. Kernels take raw pointers
// and a geometry struct (core/geometry.h); they do not know the tape.
//
// The fast floor can be switched off (every op then runs its reference path on
// one thread): tests compare the two floors op by op this way.
#pragma once

namespace dl::fast {

// True unless switched off with set_enabled(false) or ReferenceOnly.
bool enabled();
void set_enabled(bool on);

// RAII: `fast::ReferenceOnly ref;` runs every op on the reference floor until it
// goes out of scope.
class ReferenceOnly {
public:
    ReferenceOnly() : previous_(enabled()) { set_enabled(false); }
    ~ReferenceOnly() { set_enabled(previous_); }
    ReferenceOnly(const ReferenceOnly&) = delete;
    ReferenceOnly& operator=(const ReferenceOnly&) = delete;

private:
    bool previous_;
};

}  // namespace dl::fast
