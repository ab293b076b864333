// Sequential: runs its layers in order. add() prefixes each layer's parameter
// and buffer names with its index ("0.weight", "4.running_mean"), as PyTorch does.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/module.h"
#include "layers/pooling.h"

namespace dl {

class Sequential : public Module {
public:
    Sequential& add(std::unique_ptr<Module> layer) {
        const std::string prefix = std::to_string(layers_.size()) + ".";
        for (Parameter* p : layer->parameters()) p->name = prefix + p->name;
        for (Buffer* b : layer->buffers()) b->name = prefix + b->name;
        layer->train(training_);
        layers_.push_back(std::move(layer));
        return *this;
    }
    template <class Layer, class... Args>
    Sequential& add(Args&&... args) {
        return add(std::make_unique<Layer>(std::forward<Args>(args)...));
    }

    // Fused ops, with the same numbers (see core/ops_nn.h): Conv2d, ReLU, MaxPool2d
    // run as conv2d_relu_max_pool2d; a ReLU followed by a MaxPool2d as relu_max_pool2d.
    // Every other layer runs on its own.
    Var forward(Tape& tape, Var x) override {
        for (size_t i = 0; i < layers_.size(); ++i) {
            auto* conv = dynamic_cast<Conv2d*>(layers_[i].get());
            const MaxPool2d* pool = pool_after_relu(i + 1);
            if (conv && pool) {
                x = conv->forward_relu_max_pool(tape, x, pool->kernel(), pool->stride());
                i += 2;  // the ReLU and the pool are done too
                continue;
            }
            if ((pool = pool_after_relu(i))) {
                x = relu_max_pool2d(tape, x, pool->kernel(), pool->stride());
                ++i;  // the pool is done too
                continue;
            }
            x = layers_[i]->forward(tape, x);
        }
        return x;
    }
    std::string describe() const override {
        std::string s = "Sequential(\n";
        for (size_t i = 0; i < layers_.size(); ++i) s += "  (" + std::to_string(i) + ") " + layers_[i]->describe() + "\n";
        return s + ")";
    }
    ParameterList parameters() override { return gather<Parameter*>(&Module::parameters); }
    BufferList buffers() override { return gather<Buffer*>(&Module::buffers); }
    // Layer i's state under "i." ("8.rng", "1.running_mean"), as its parameters are named.
    void state_fields(Fields& f) override {
        for (size_t i = 0; i < layers_.size(); ++i) {
            Fields::Scope scope(f, std::to_string(i) + ".");
            layers_[i]->state_fields(f);
        }
    }
    void train(bool on = true) override {
        training_ = on;
        for (auto& layer : layers_) layer->train(on);
    }

    size_t size() const { return layers_.size(); }
    Module& operator[](size_t i) { return *layers_[i]; }

private:
    // The MaxPool2d at i + 1 when layer i is a ReLU, else nullptr.
    const MaxPool2d* pool_after_relu(size_t i) const {
        if (i + 1 >= layers_.size() || !dynamic_cast<const ReLU*>(layers_[i].get())) return nullptr;
        return dynamic_cast<const MaxPool2d*>(layers_[i + 1].get());
    }

    template <class T>
    std::vector<T> gather(std::vector<T> (Module::*list)()) {
        std::vector<T> all;
        for (auto& layer : layers_) {
            std::vector<T> some = ((*layer).*list)();
            all.insert(all.end(), some.begin(), some.end());
        }
        return all;
    }

    std::vector<std::unique_ptr<Module>> layers_;
};

}  // namespace dl
