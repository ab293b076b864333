// build/predict: classifies images with trained checkpoints.
//
//   build/predict runs/x/best.ckpt shirt.png bag.jpg        top-3 classes per image
//   build/predict runs/x/best.ckpt --data                   accuracy + confusion matrix on
//                                                           the Fashion-MNIST test set
//   build/predict --ensemble s1.ckpt s2.ckpt s3.ckpt --data DIR   average of their probabilities
//
// Images of any size, colour or grey, are converted and resized like the
// training data (channels and size from the checkpoint), then normalised with
// the training set's statistics stored in the checkpoint.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "core/blas_setup.h"
#include "core/core.h"
#include "data/data.h"
#include "layers/checkpoint.h"
#include "layers/models.h"

using namespace dl;

namespace {

// One trained model with what is needed to feed it.
struct Member {
    std::string path;
    ModelSpec spec;
    std::unique_ptr<Module> model;
    Normalization norm;
    std::vector<std::string> class_names;
};

std::string extra(const Checkpoint& ck, const std::string& key, const std::string& path) {
    auto it = ck.extra.find(key);
    if (it == ck.extra.end())
        throw std::runtime_error(path + ": no '" + key + "' record; was this checkpoint written by build/train?");
    return it->second;
}

Member load_member(const std::string& path) {
    Member m;
    m.path = path;
    Checkpoint ck = read_checkpoint(path);
    m.spec = ck.spec;
    m.model = make_model(ck.spec, 0);
    load_state(*m.model, ck, path);
    m.model->eval();
    std::istringstream n(extra(ck, "normalization", path));
    for (float mean, sd; n >> mean >> sd;) {
        m.norm.mean.push_back(mean);
        m.norm.std.push_back(sd);
    }
    std::istringstream names(extra(ck, "class_names", path));
    for (std::string line; std::getline(names, line);) m.class_names.push_back(line);
    if (static_cast<int>(m.class_names.size()) != m.spec.classes)
        throw std::runtime_error(path + ": " + std::to_string(m.class_names.size()) + " class names for " +
                                 std::to_string(m.spec.classes) + " classes");
    return m;
}

void check_same_task(const std::vector<Member>& ms) {
    for (const Member& m : ms)
        if (m.spec.channels != ms[0].spec.channels || m.spec.height != ms[0].spec.height ||
            m.spec.width != ms[0].spec.width || m.spec.classes != ms[0].spec.classes)
            throw std::invalid_argument("--ensemble: " + m.path + " was trained on other data than " + ms[0].path);
}

// Softmax probabilities (N, classes) averaged over the members, for uint8 images (N, C*H*W).
Tensor probabilities(std::vector<Member>& ms, const uint8_t* images, int n, Tape& tape) {
    const ModelSpec& s = ms[0].spec;
    const size_t image = static_cast<size_t>(s.channels) * s.height * s.width;
    Tensor avg(Shape{n, s.classes});
    Tensor x(Shape{n, s.channels, s.height, s.width});
    Augmentation none;
    std::mt19937 rng(0);
    for (Member& m : ms) {
        const std::vector<float> table = normalization_table(m.norm, s.channels);
        for (int i = 0; i < n; ++i)
            make_example(x.data() + i * image, images + i * image, s.channels, s.height, s.width, table.data(), none, rng);
        tape.reset();
        NoGrad ng(tape);
        const Tensor& logp = tape.value(log_softmax(tape, m.model->forward(tape, tape.input(x))));
        for (size_t k = 0; k < avg.size(); ++k) avg[k] += std::exp(logp[k]) / ms.size();
    }
    return avg;
}

void classify_images(std::vector<Member>& ms, const std::vector<std::string>& paths, int top) {
    const ModelSpec& s = ms[0].spec;
    Tape tape;
    for (const std::string& path : paths) {
        const std::vector<uint8_t> img = load_image(path, s.channels, s.height, s.width);
        const Tensor p = probabilities(ms, img.data(), 1, tape);
        std::vector<int> order(s.classes);
        for (int c = 0; c < s.classes; ++c) order[c] = c;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
        std::printf("%s:", path.c_str());
        for (int k = 0; k < std::min(top, s.classes); ++k)
            std::printf("%s %s %.3f", k ? "," : "", ms[0].class_names[order[k]].c_str(), p[order[k]]);
        std::printf("\n");
    }
}

void evaluate_set(std::vector<Member>& ms, const std::string& dir) {
    const ModelSpec& s = ms[0].spec;
    Dataset test = load_mnist_dir(dir, false);
    if (test.channels != s.channels || test.height != s.height || test.width != s.width || test.classes > s.classes)
        throw std::invalid_argument("the model " + ms[0].path + " takes " + std::to_string(s.channels) + "x" +
                                    std::to_string(s.height) + "x" + std::to_string(s.width) + " images of " +
                                    std::to_string(s.classes) + " classes; " + dir + " has " +
                                    std::to_string(test.channels) + "x" + std::to_string(test.height) + "x" +
                                    std::to_string(test.width) + " images of " + std::to_string(test.classes));
    std::vector<std::vector<int>> confusion(s.classes, std::vector<int>(s.classes, 0));
    Tape tape;
    int correct = 0;
    const int chunk = 250;  // keeps activations (and memory) small
    for (int start = 0; start < test.count; start += chunk) {
        const int n = std::min(chunk, test.count - start);
        const Tensor p = probabilities(ms, test.image(start), n, tape);
        for (int i = 0; i < n; ++i) {
            const float* row = p.data() + static_cast<size_t>(i) * s.classes;
            const int guess = static_cast<int>(std::max_element(row, row + s.classes) - row);
            const int truth = test.labels[start + i];
            confusion[truth][guess] += 1;
            correct += guess == truth;
        }
    }
    std::printf("accuracy %.4f (%d of %d)%s\n", double(correct) / test.count, correct, test.count,
                ms.size() > 1 ? (" with an ensemble of " + std::to_string(ms.size())).c_str() : "");
    std::printf("confusion matrix (rows: true class, columns: predicted)\n%14s", "");
    for (int c = 0; c < s.classes; ++c) std::printf("%6d", c);
    std::printf("\n");
    for (int r = 0; r < s.classes; ++r) {
        std::printf("%2d %-11.11s", r, ms[0].class_names[r].c_str());
        for (int c = 0; c < s.classes; ++c) std::printf("%6d", confusion[r][c]);
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Classifies images, or a whole IDX test set, with trained checkpoints."};
    std::vector<std::string> inputs, ensemble;
    std::string data;
    int top = 3, threads = 2;
    app.add_option("inputs", inputs, "CHECKPOINT IMAGE... (or only IMAGE... with --ensemble)");
    app.add_option("--ensemble", ensemble, "several checkpoints whose probabilities are averaged")->expected(1, -1);
    app.add_option("--data", data, "evaluate the test set of this IDX directory (no value: the Fashion-MNIST package)")
        ->expected(0, 1);
    app.add_option("--top", top, "classes shown per image")->capture_default_str()->check(CLI::Range(1, 1000));
    app.add_option("--threads", threads, "threads")->capture_default_str()->check(CLI::Range(1, 256));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        set_num_threads(threads);
        if (ensemble.empty()) {
            if (inputs.empty()) throw std::invalid_argument("no checkpoint given (see --help)");
            ensemble.push_back(inputs.front());
            inputs.erase(inputs.begin());
        }
        const bool eval_set = app.count("--data") > 0;
        if (inputs.empty() && !eval_set) throw std::invalid_argument("nothing to classify: give image files or --data");
        std::vector<Member> members;
        for (const std::string& path : ensemble) members.push_back(load_member(path));
        check_same_task(members);
        if (!inputs.empty()) classify_images(members, inputs, top);
        if (eval_set) evaluate_set(members, data.empty() ? default_data_dir() : data);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "predict: %s\n", e.what());
        return 1;
    }
}
