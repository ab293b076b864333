// Gaussian blobs and noisy linear regression, drawn with data/random.h.
#include "data/synthetic.h"

#include <random>
#include <stdexcept>
#include <string>

#include "data/random.h"

namespace dl {
namespace {

void require_positive(const char* what, const char* name, int v) {
    if (v < 1)
        throw std::invalid_argument(std::string(what) + ": " + name + " " + std::to_string(v) +
                                    ", expected >= 1");
}

void fill_normal(Tensor& t, std::mt19937& rng) {
    for (size_t i = 0; i < t.size(); ++i) t[i] = normal01(rng);
}

}  // namespace

Blobs make_blobs(const BlobsOptions& o) {
    require_positive("make_blobs", "count", o.count);
    require_positive("make_blobs", "classes", o.classes);
    require_positive("make_blobs", "dims", o.dims);
    if (!(o.sigma >= 0.0f) || !(o.center_range >= 0.0f))
        throw std::invalid_argument("make_blobs: sigma " + std::to_string(o.sigma) + ", center_range " +
                                    std::to_string(o.center_range) + "; expected both >= 0");
    std::mt19937 rng(derive_seed(o.seed, 0xb10b));
    Blobs b;
    b.centers = Tensor(Shape{o.classes, o.dims});
    for (size_t i = 0; i < b.centers.size(); ++i)
        b.centers[i] = (2.0f * uniform01(rng) - 1.0f) * o.center_range;
    b.x = Tensor(Shape{o.count, o.dims});
    b.y.resize(static_cast<size_t>(o.count));
    for (int i = 0; i < o.count; ++i) {
        int c = i % o.classes;
        b.y[i] = c;
        for (int j = 0; j < o.dims; ++j)
            b.x[size_t(i) * o.dims + j] = b.centers[size_t(c) * o.dims + j] + o.sigma * normal01(rng);
    }
    return b;
}

Regression make_regression(const RegressionOptions& o) {
    require_positive("make_regression", "count", o.count);
    require_positive("make_regression", "in_features", o.in_features);
    require_positive("make_regression", "out_features", o.out_features);
    if (!(o.noise >= 0.0f))
        throw std::invalid_argument("make_regression: noise " + std::to_string(o.noise) + ", expected >= 0");
    std::mt19937 rng(derive_seed(o.seed, 0x1ea5));
    Regression r;
    r.weight = Tensor(Shape{o.out_features, o.in_features});
    r.bias = Tensor(Shape{o.out_features});
    r.x = Tensor(Shape{o.count, o.in_features});
    r.y = Tensor(Shape{o.count, o.out_features});
    fill_normal(r.weight, rng);
    fill_normal(r.bias, rng);
    fill_normal(r.x, rng);
    for (int i = 0; i < o.count; ++i)
        for (int k = 0; k < o.out_features; ++k) {
            float s = r.bias[k];
            for (int j = 0; j < o.in_features; ++j)
                s += r.x[size_t(i) * o.in_features + j] * r.weight[size_t(k) * o.in_features + j];
            r.y[size_t(i) * o.out_features + k] = s + o.noise * normal01(rng);
        }
    return r;
}

}  // namespace dl
