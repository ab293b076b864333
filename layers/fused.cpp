#include "layers/fused.h"

namespace dl {

namespace {

// Layer i of m as a T, or nullptr (also past the end).
template <class T>
T* layer_as(Sequential& m, size_t i) {
    return i < m.size() ? dynamic_cast<T*>(&m[i]) : nullptr;
}

// The layers taken out of a model, each back in its own type.
template <class T>
std::unique_ptr<T> as(std::unique_ptr<Module> layer) {
    return std::unique_ptr<T>(static_cast<T*>(layer.release()));
}

}  // namespace

int fuse(Sequential& model) {
    int fused = 0;
    for (size_t i = 0; i < model.size(); ++i) {
        if (auto* inner = layer_as<Sequential>(model, i)) {
            fused += fuse(*inner);
        } else if (layer_as<Conv2d>(model, i) && layer_as<ReLU>(model, i + 1) && layer_as<MaxPool2d>(model, i + 2)) {
            auto parts = model.take(i, 3);
            model.insert(i, std::make_unique<ConvReluMaxPool>(as<Conv2d>(std::move(parts[0])),
                                                              as<ReLU>(std::move(parts[1])),
                                                              as<MaxPool2d>(std::move(parts[2]))));
            ++fused;
        } else if (layer_as<ReLU>(model, i) && layer_as<MaxPool2d>(model, i + 1)) {
            auto parts = model.take(i, 2);
            model.insert(i, std::make_unique<ReluMaxPool>(as<ReLU>(std::move(parts[0])),
                                                          as<MaxPool2d>(std::move(parts[1]))));
            ++fused;
        }
    }
    return fused;
}

}  // namespace dl
