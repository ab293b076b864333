// The sizes of one convolution, shared by the op (core/ops_conv.cpp) and its
// direct kernels (core/conv_direct.cpp). Stored in Node::iarg[0..8].
#pragma once
#include "core/tape.h"

namespace dl {

// The sizes of one convolution, stored in Node::iarg.
struct Geom {
    int N, C, H, W, OC, KH, KW, S, P;
    int Hp() const { return H + 2 * P; }
    int Wp() const { return W + 2 * P; }
    int OH() const { return (Hp() - KH) / S + 1; }
    int OW() const { return (Wp() - KW) / S + 1; }
    int K() const { return C * KH * KW; }
    int OHW() const { return OH() * OW(); }
    long in_plane() const { return (long)C * Hp() * Wp(); }  // one padded example
};

inline Geom geom_of(const Node& n) {
    const int* a = n.iarg;
    return Geom{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]};
}

}  // namespace dl
