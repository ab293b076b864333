// build/predict: classifies images with trained checkpoints.
//
//   build/predict runs/x/best.ckpt shirt.png bag.jpg        top-3 classes per image
//   build/predict runs/x/best.ckpt --data                   accuracy + confusion matrix on
//                                                           the Fashion-MNIST test set
//   build/predict --ensemble s1.ckpt s2.ckpt s3.ckpt --data DIR   average of their probabilities
//   build/predict runs/x/best.ckpt --logits shirt.png       the model's raw outputs (to compare
//                                                           with another runtime, e.g. build/export's)
//
// Images of any size, colour or grey, are converted and resized like the
// training data (channels and size from the checkpoint), then normalised with
// the training set's statistics stored in the checkpoint. A checkpoint is
// never scored against another data set: --data compares the class names,
// image size and pixel statistics of the test set with the checkpoint's, and
// --ensemble averages only checkpoints of one task.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <new>
#include <cstdio>
#include <memory>

#include "apps/common/task.h"
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
    Task task;  // spec, class names, normalisation
    std::unique_ptr<Module> model;
};

Member load_member(const std::string& path) {
    Member m;
    m.path = path;
    Checkpoint ck = read_checkpoint(path);
    m.task = read_task(ck, path);
    m.model = make_model(ck.spec, 0);
    load_state(*m.model, ck, path);
    m.model->eval();
    return m;
}

// An ensemble averages the probabilities of models of one task.
void check_same_task(const std::vector<Member>& ms) {
    for (const Member& m : ms) dl::check_same_task(ms[0].task, ms[0].path, m.task, m.path);
}

bool is_image_path(const std::string& path) {
    const size_t dot = path.find_last_of('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

// Softmax probabilities (N, classes) averaged over the members, for uint8 images (N, C*H*W).
Tensor probabilities(std::vector<Member>& ms, const uint8_t* images, int n, Tape& tape) {
    const ModelSpec& s = ms[0].task.spec;
    const size_t image = static_cast<size_t>(s.channels) * s.height * s.width;
    Tensor avg(Shape{n, s.classes});
    Tensor x(Shape{n, s.channels, s.height, s.width});
    Augmentation none;
    std::mt19937 rng(0);
    for (Member& m : ms) {
        const std::vector<float> table = normalization_table(m.task.norm, s.channels);
        for (int i = 0; i < n; ++i)
            make_example(x.data() + i * image, images + i * image, s.channels, s.height, s.width, table.data(), none, rng);
        tape.reset();
        NoGrad ng(tape);
        const Tensor& logp = tape.value(log_softmax(tape, m.model->forward(tape, tape.input(x))));
        for (size_t k = 0; k < avg.size(); ++k) avg[k] += std::exp(logp[k]) / ms.size();
    }
    return avg;
}

// One line per image: its path and the model's outputs (logits), every digit of each float.
void print_logits(Member& m, const std::vector<std::string>& paths) {
    const ModelSpec& s = m.task.spec;
    const std::vector<float> table = normalization_table(m.task.norm, s.channels);
    Tensor x(Shape{1, s.channels, s.height, s.width});
    Augmentation none;
    std::mt19937 rng(0);
    Tape tape;
    NoGrad ng(tape);
    for (const std::string& path : paths) {
        const std::vector<uint8_t> img = load_image(path, s.channels, s.height, s.width);
        make_example(x.data(), img.data(), s.channels, s.height, s.width, table.data(), none, rng);
        tape.reset();
        const Tensor& out = tape.value(m.model->forward(tape, tape.input(x)));
        std::printf("%s:", path.c_str());
        for (size_t k = 0; k < out.size(); ++k) std::printf(" %.9g", out[k]);
        std::printf("\n");
    }
}

void classify_images(std::vector<Member>& ms, const std::vector<std::string>& paths, int top) {
    const ModelSpec& s = ms[0].task.spec;
    Tape tape;
    for (const std::string& path : paths) {
        const std::vector<uint8_t> img = load_image(path, s.channels, s.height, s.width);
        const Tensor p = probabilities(ms, img.data(), 1, tape);
        std::vector<int> order(s.classes);
        for (int c = 0; c < s.classes; ++c) order[c] = c;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
        std::printf("%s:", path.c_str());
        for (int k = 0; k < std::min(top, s.classes); ++k)
            std::printf("%s %s %.3f", k ? "," : "", class_name_for_print(ms[0].task.class_names[order[k]]).c_str(),
                        p[order[k]]);
        std::printf("\n");
    }
}

void evaluate_set(std::vector<Member>& ms, const std::string& dir) {
    const ModelSpec& s = ms[0].task.spec;
    // Labels past the model's classes are refused while loading, naming the labels file.
    Dataset test;
    try {
        test = load_mnist_dir(dir, false, s.classes);
    } catch (const LabelRangeError& e) {
        std::string names;
        for (int c = 0; c < s.classes && c < 4; ++c) names += (c ? ", " : "") + class_name_for_print(ms[0].task.class_names[c]);
        throw std::runtime_error(std::string(e.what()) + " (the model " + ms[0].path + " has " +
                                 std::to_string(s.classes) + " classes: " + names + (s.classes > 4 ? ", ...)" : ")"));
    }
    check_data_fits(ms[0].task, "the model " + ms[0].path, test, dir);
    const Normalization seen = compute_normalization(test);
    for (const Member& m : ms)
        if (!similar_normalization(m.task.norm, seen))
            throw std::invalid_argument("the test images of " + dir + " (" + describe_normalization(seen) +
                                        ") do not look like the data " + m.path + " was trained on (" +
                                        describe_normalization(m.task.norm) + "): another data set?");
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
        std::printf("%2d %-11.11s", r, class_name_for_print(ms[0].task.class_names[r]).c_str());
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
    bool logits = false;
    app.add_option("inputs", inputs, "CHECKPOINT IMAGE... (or only IMAGE... with --ensemble)");
    app.add_option("--ensemble", ensemble, "several checkpoints whose probabilities are averaged")->expected(1, -1);
    app.add_option("--data", data, "evaluate the test set of this IDX directory (no value: the Fashion-MNIST package)")
        ->expected(0, 1);
    app.add_option("--top", top, "classes shown per image")->capture_default_str()->check(CLI::Range(1, 1000));
    app.add_option("--threads", threads, "threads")->capture_default_str()->check(CLI::Range(1, 256));
    app.add_flag("--logits", logits, "print each image's logits (the model's raw outputs) instead of its top classes");
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
        // `--ensemble A B img.png`: the list takes every word up to the next option, so
        // images written after it are images, not checkpoints.
        const auto first_image = std::find_if(ensemble.begin(), ensemble.end(), is_image_path);
        inputs.insert(inputs.begin(), first_image, ensemble.end());
        ensemble.erase(first_image, ensemble.end());
        if (ensemble.empty()) throw std::invalid_argument("--ensemble names no checkpoint, only images");
        const bool eval_set = app.count("--data") > 0;
        if (inputs.empty() && !eval_set) throw std::invalid_argument("nothing to classify: give image files or --data");
        if (inputs.empty() && app.count("--top"))
            throw std::invalid_argument("--top has no effect with --data alone (it applies to image files)");
        std::vector<Member> members;
        for (const std::string& path : ensemble) members.push_back(load_member(path));
        check_same_task(members);
        if (logits) {
            if (members.size() > 1 || eval_set || inputs.empty())
                throw std::invalid_argument("--logits takes one checkpoint and image files");
            print_logits(members[0], inputs);
            return 0;
        }
        if (!inputs.empty()) classify_images(members, inputs, top);
        if (eval_set) evaluate_set(members, data.empty() ? default_data_dir() : data);
        return 0;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "predict: out of memory (too many or too large images or checkpoints)\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "predict: %s\n", e.what());
        return 1;
    }
}
