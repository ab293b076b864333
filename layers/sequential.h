// Sequential: runs its layers in order, each layer's forward and nothing else.
// add() prefixes each layer's parameter and buffer names with its index
// ("0.weight", "4.running_mean"), as PyTorch does. Fusing layers into one op is
// a separate, explicit step: fuse() in layers/fused.h.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/module.h"

namespace dl {

class Sequential : public Module {
public:
    // Returns the layer just added: `auto& conv = model.add<Conv2d>(1, 32, 5, 1, Conv2d::same, rng);`
    Module& add(std::unique_ptr<Module> layer) {
        const std::string prefix = std::to_string(added_++) + ".";
        for (Parameter* p : layer->parameters()) p->name = prefix + p->name;
        for (Buffer* b : layer->buffers()) b->name = prefix + b->name;
        layer->train(training_);
        layers_.push_back(std::move(layer));
        prefixes_.push_back(prefix);
        return *layers_.back();
    }
    template <class Layer, class... Args>
    Layer& add(Args&&... args) {
        return static_cast<Layer&>(add(std::make_unique<Layer>(std::forward<Args>(args)...)));
    }

    Var forward(Tape& tape, Var x) override {
        for (auto& layer : layers_) x = layer->forward(tape, x);
        return x;
    }
    std::string describe() const override {
        std::string s = "Sequential(\n";
        for (size_t i = 0; i < layers_.size(); ++i) s += "  (" + std::to_string(i) + ") " + layers_[i]->describe() + "\n";
        return s + ")";
    }
    ParameterList parameters() override { return gather<Parameter*>(&Module::parameters); }
    BufferList buffers() override { return gather<Buffer*>(&Module::buffers); }
    // Each layer's state under the prefix of its parameter names ("12.rng", "1.running_mean").
    void state_fields(Fields& f) override {
        for (size_t i = 0; i < layers_.size(); ++i) {
            Fields::Scope scope(f, prefixes_[i]);
            layers_[i]->state_fields(f);
        }
    }
    void train(bool on = true) override {
        training_ = on;
        for (auto& layer : layers_) layer->train(on);
    }

    size_t size() const { return layers_.size(); }
    Module& operator[](size_t i) { return *layers_[i]; }

    // For passes that rewrite a model (fuse): take layers [first, first + count) out,
    // and put a layer in at `pos`. Unlike add(), names stay as they are.
    std::vector<std::unique_ptr<Module>> take(size_t first, size_t count) {
        std::vector<std::unique_ptr<Module>> out;
        for (size_t i = first; i < first + count; ++i) out.push_back(std::move(layers_.at(i)));
        layers_.erase(layers_.begin() + first, layers_.begin() + first + count);
        if (count > 0) taken_prefix_ = prefixes_.at(first);  // the layer put in their place takes the first's
        prefixes_.erase(prefixes_.begin() + first, prefixes_.begin() + first + count);
        return out;
    }
    void insert(size_t pos, std::unique_ptr<Module> layer) {
        layer->train(training_);
        layers_.insert(layers_.begin() + pos, std::move(layer));
        prefixes_.insert(prefixes_.begin() + pos, taken_prefix_.empty() ? std::to_string(added_++) + "." : taken_prefix_);
        taken_prefix_.clear();
    }

private:
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
    std::vector<std::string> prefixes_;  // (layers_) "3.": layer 3 as added, whatever its position now
    std::string taken_prefix_;           // the first prefix of the last take(), for insert()
    size_t added_ = 0;  // layers ever added: the next name prefix (after take(), not the size)
};

}  // namespace dl
