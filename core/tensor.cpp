#include "core/tensor.h"

#include <algorithm>
#include <stdexcept>

#include "core/blas_setup.h"
#include "core/fast/parallel.h"
#include "core/fast/float_mode.h"

namespace dl {

// What every program gets before main(): OpenBLAS's fast kernels
// (core/blas_setup.h) and denormals flushed (core/fast/float_mode.h). Every program
// that uses the library uses Tensor, so this runs in each of them, in the main
// thread, before any other thread exists.
static const bool runtime_set = (choose_blas_kernels_at_start(), apply_float_mode(), true);

Shape::Shape(std::initializer_list<int> d) {
    if (d.size() > 4)
        throw std::invalid_argument("Shape: rank " + std::to_string(d.size()) +
                                    " is not supported (at most 4 dimensions)");
    for (int x : d) {
        if (x < 0) throw std::invalid_argument("Shape: negative dimension " + std::to_string(x));
        dims[rank++] = x;
    }
}

size_t Shape::numel() const {
    size_t n = 1;
    for (int i = 0; i < rank; ++i) n *= static_cast<size_t>(dims[i]);
    return n;
}

std::string Shape::str() const {
    std::string s = "(";
    for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
}

bool Shape::operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
        if (dims[i] != o.dims[i]) return false;
    return true;
}

Tensor::Tensor(const Shape& shape, float fill) : shape_(shape), data_(shape.numel(), fill) {}

Tensor::Tensor(const Shape& shape, std::vector<float> values) : shape_(shape), data_(std::move(values)) {
    if (data_.size() != shape.numel())
        throw std::invalid_argument("Tensor: shape " + shape.str() + " needs " +
                                    std::to_string(shape.numel()) + " values, got " +
                                    std::to_string(data_.size()));
}

void Tensor::resize(const Shape& shape) {
    shape_ = shape;
    data_.resize(shape.numel());
}

void Tensor::reshape(const Shape& shape) {
    if (shape.numel() != data_.size())
        throw std::invalid_argument("reshape: cannot view " + shape_.str() + " as " + shape.str() +
                                    " (" + std::to_string(data_.size()) + " vs " +
                                    std::to_string(shape.numel()) + " elements)");
    shape_ = shape;
}

// Split over the threads when large: zeroing the gradients of mlp's 235k
// parameters on one thread took 3% of a training step.
void Tensor::fill(float v) {
    const long n = static_cast<long>(data_.size());
    float* d = data_.data();
    fast::parallel_for(n, n, [&](long first, long last) { std::fill(d + first, d + last, v); });
}

}  // namespace dl
