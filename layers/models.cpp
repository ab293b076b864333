#include "layers/models.h"

#include <random>
#include <stdexcept>

#include "layers/layers.h"

namespace dl {

namespace {

std::unique_ptr<Module> make_mlp(const ModelSpec& s, std::mt19937& rng) {
    auto m = std::make_unique<Sequential>();
    m->add<Flatten>();
    m->add<Linear>(s.channels * s.height * s.width, 256, rng);
    m->add<ReLU>();
    m->add<Linear>(256, 128, rng);
    m->add<ReLU>();
    m->add<Linear>(128, s.classes, rng);
    return m;
}

std::uint64_t seed64(std::mt19937& rng) {
    const std::uint64_t high = rng();
    return high << 32 | rng();
}

void check_min_size(const ModelSpec& s) {
    if (s.height < 4 || s.width < 4)
        throw std::invalid_argument("make_model: '" + s.name + "' needs images of at least 4x4, got " +
                                    std::to_string(s.height) + "x" + std::to_string(s.width));
}

// The two convolution blocks keep the size (kernel 5, padding 2); each pool halves it.
std::unique_ptr<Module> make_cnn(const ModelSpec& s, std::mt19937& rng) {
    check_min_size(s);
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(s.channels, 16, 5, 1, 2, rng);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(16, 32, 5, 1, 2, rng);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Flatten>();
    m->add<Linear>(32 * (s.height / 2 / 2) * (s.width / 2 / 2), 128, rng);
    m->add<ReLU>();
    m->add<Linear>(128, s.classes, rng);
    fuse(*m);  // Conv2d, ReLU, MaxPool2d as one op (layers/fused.h)
    return m;
}

// Wider than cnn (32 and 64 channels, 3x3 kernels, 256 hidden units), with batch
// norm after every layer but the last: cnn's 16/32 channels with batch norm
// under-fitted under augmentation (92.4% at best after 15 epochs). Batch norm
// makes the preceding biases redundant, so those layers have none.
std::unique_ptr<Module> make_cnn_bn(const ModelSpec& s, std::mt19937& rng) {
    check_min_size(s);
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(s.channels, 32, 3, 1, 1, rng, /*bias=*/false);
    m->add<BatchNorm2d>(32);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(32, 64, 3, 1, 1, rng, /*bias=*/false);
    m->add<BatchNorm2d>(64);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Flatten>();
    m->add<Linear>(64 * (s.height / 2 / 2) * (s.width / 2 / 2), 256, rng, /*bias=*/false);
    m->add<BatchNorm1d>(256);
    m->add<ReLU>();
    m->add<Dropout>(0.25f, seed64(rng));
    m->add<Linear>(256, s.classes, rng);
    fuse(*m);  // ReLU, MaxPool2d as one op (layers/fused.h)
    return m;
}

void check_spec(const ModelSpec& s) {
    if (s.channels < 1 || s.height < 1 || s.width < 1 || s.classes < 2)
        throw std::invalid_argument("make_model: data shape " + std::to_string(s.channels) + "x" +
                                    std::to_string(s.height) + "x" + std::to_string(s.width) + " with " +
                                    std::to_string(s.classes) +
                                    " classes is not valid (expected positive sizes and at least 2 classes)");
}

}  // namespace

const std::vector<std::string>& model_names() {
    static const std::vector<std::string> names = {"mlp", "cnn", "cnn-bn"};
    return names;
}

std::unique_ptr<Module> make_model(const ModelSpec& spec, unsigned seed) {
    check_spec(spec);
    std::mt19937 rng(seed);
    if (spec.name == "mlp") return make_mlp(spec, rng);
    if (spec.name == "cnn") return make_cnn(spec, rng);
    if (spec.name == "cnn-bn") return make_cnn_bn(spec, rng);
    std::string known;
    for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("make_model: unknown model '" + spec.name + "' (known: " + known + ")");
}

std::unique_ptr<Module> make_model(const std::string& name, int channels, int height, int width, int classes,
                                   unsigned seed) {
    return make_model(ModelSpec{name, channels, height, width, classes}, seed);
}

}  // namespace dl
