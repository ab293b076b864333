// The sizes of a convolution and of a pooling, shared by the reference ops
// (core/ops/) and the fast kernels (core/fast/), which take them beside raw pointers.
#pragma once

namespace dl {

// conv2d: x (N,C,H,W), weight (OC,C,KH,KW), stride S, padding P -> y (N,OC,OH,OW).
struct ConvGeom {
    int N, C, H, W, OC, KH, KW, S, P;
    int Hp() const { return H + 2 * P; }  // padded input
    int Wp() const { return W + 2 * P; }
    int OH() const { return (Hp() - KH) / S + 1; }
    int OW() const { return (Wp() - KW) / S + 1; }
    int K() const { return C * KH * KW; }  // one output's inputs: a row of the unfolded input
    int OHW() const { return OH() * OW(); }
    long in_plane() const { return (long)C * Hp() * Wp(); }  // one padded example
};

// Pooling: x viewed as `planes` = N*C planes of (H,W), K x K windows with stride S,
// no padding -> (planes,OH,OW).
struct PoolGeom {
    int planes, H, W, OH, OW, K, S;
};

inline PoolGeom pool_geom(int planes, int H, int W, int K, int S) {
    return PoolGeom{planes, H, W, (H - K) / S + 1, (W - K) / S + 1, K, S};
}

}  // namespace dl
