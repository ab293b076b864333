// Synthetic data sets for tests and experiments, where the right answer is
// known: Gaussian blobs (classification) and a linear model with Gaussian
// noise (regression). Both are reproducible from their seed on any platform
// (see data/random.h).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace dl {

struct BlobsOptions {
    int count = 300;
    int classes = 3;
    int dims = 2;
    float center_range = 5.0f;  // centres uniform in [-center_range, center_range]^dims
    float sigma = 1.0f;         // standard deviation of each blob in every direction
    uint64_t seed = 0;
};

struct Blobs {
    Tensor x;            // (count, dims)
    std::vector<int> y;  // (count), example i has class i mod classes (balanced)
    Tensor centers;      // (classes, dims)
};

// x_i = centers[y_i] + sigma * N(0, I).
Blobs make_blobs(const BlobsOptions& options);

struct RegressionOptions {
    int count = 200;
    int in_features = 3;
    int out_features = 1;
    float noise = 0.1f;  // standard deviation of the additive noise
    uint64_t seed = 0;
};

struct Regression {
    Tensor x;       // (count, in_features), entries N(0, 1)
    Tensor y;       // (count, out_features)
    Tensor weight;  // (out_features, in_features), the true weights, entries N(0, 1)
    Tensor bias;    // (out_features), the true bias, entries N(0, 1)
};

// y = x weight^T + bias + noise * N(0, I): the layout of dl::linear, so a
// Linear layer can recover weight and bias exactly when noise is 0.
Regression make_regression(const RegressionOptions& options);

}  // namespace dl
