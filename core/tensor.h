// Tensor: a float32 array, contiguous and row-major, with up to 4 dimensions.
//
// It owns its storage (a std::vector<float>). resize() keeps the capacity, so a
// buffer that is resized to the same shape every training step never touches
// the heap again after the first step: the tape relies on this.
#pragma once
#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace dl {

// The shape of a tensor: rank 0..4 and the size of each dimension.
struct Shape {
    int rank = 0;
    std::array<int, 4> dims{0, 0, 0, 0};

    Shape() = default;
    Shape(std::initializer_list<int> d);   // throws std::invalid_argument on rank > 4 or d < 0

    int operator[](int i) const { return dims[i]; }
    size_t numel() const;                  // product of the dims (1 for rank 0)
    std::string str() const;               // "(64, 1, 28, 28)"
    bool operator==(const Shape& o) const;
    bool operator!=(const Shape& o) const { return !(*this == o); }
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(const Shape& shape, float fill = 0.0f);
    Tensor(const Shape& shape, std::vector<float> values);  // values.size() must equal numel

    const Shape& shape() const { return shape_; }
    int rank() const { return shape_.rank; }
    int dim(int i) const { return shape_.dims[i]; }
    size_t size() const { return data_.size(); }
    bool empty() const { return data_.empty(); }

    float* data() { return data_.data(); }
    const float* data() const { return data_.data(); }
    float& operator[](size_t i) { return data_[i]; }
    float operator[](size_t i) const { return data_[i]; }
    std::vector<float>& vec() { return data_; }
    const std::vector<float>& vec() const { return data_; }

    // Change the shape; contents are unspecified afterwards (except when the
    // size does not change). Never frees memory.
    void resize(const Shape& shape);
    // Same data, new shape with the same number of elements.
    void reshape(const Shape& shape);
    void fill(float v);
    void zero() { fill(0.0f); }

private:
    Shape shape_;
    std::vector<float> data_;
};

}  // namespace dl
