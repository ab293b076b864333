#include "apps/lecture/training.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "data/data.h"
#include "layers/evaluate.h"

namespace dl::lecture {

namespace {

const Dataset& fashion(bool train) {
    static const Dataset train_set = load_mnist_dir(default_data_dir(), true);
    static const Dataset test_set = load_mnist_dir(default_data_dir(), false);
    return train ? train_set : test_set;
}

Features features(const Dataset& d, const std::vector<int>& indices, float mean, float scale) {
    const int dim = static_cast<int>(d.image_size());
    Features f;
    f.x = Tensor(Shape{static_cast<int>(indices.size()), dim});
    for (size_t r = 0; r < indices.size(); ++r) {
        const uint8_t* img = d.image(indices[r]);
        float* row = f.x.data() + r * static_cast<size_t>(dim);
        for (int k = 0; k < dim; ++k) row[k] = (img[k] / 255.0f - mean) * scale;
        f.y.push_back(d.labels[static_cast<size_t>(indices[r])]);
    }
    return f;
}

// Copies rows `rows` of data into x (B, dim) and labels into y.
void gather(const Features& data, const std::vector<int>& rows, Tensor& x, std::vector<int>& y) {
    const int dim = data.dim();
    x.resize(Shape{static_cast<int>(rows.size()), dim});
    y.resize(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
        std::memcpy(x.data() + r * static_cast<size_t>(dim),
                    data.x.data() + static_cast<size_t>(rows[r]) * static_cast<size_t>(dim),
                    sizeof(float) * static_cast<size_t>(dim));
        y[r] = data.y[static_cast<size_t>(rows[r])];
    }
}

}  // namespace

FashionSubset load_fashion(int n_train, int n_test, uint64_t seed, float scale) {
    const Dataset& train = fashion(true);
    const Dataset& test = fashion(false);
    double sum = 0.0;
    for (uint8_t v : train.images) sum += v;
    const float mean = static_cast<float>(sum / (255.0 * static_cast<double>(train.images.size())));
    std::vector<int> order(static_cast<size_t>(train.count));
    std::iota(order.begin(), order.end(), 0);
    Rng rng(seed);
    std::shuffle(order.begin(), order.end(), rng.engine());
    order.resize(static_cast<size_t>(std::min(n_train, train.count)));
    std::vector<int> first(static_cast<size_t>(std::min(n_test, test.count)));
    std::iota(first.begin(), first.end(), 0);
    return {features(train, order, mean, scale), features(test, first, mean, scale)};
}

Features first_examples(const Features& f, int n) {
    n = std::min(n, f.count());
    Features out;
    out.x = Tensor(Shape{n, f.dim()});
    std::copy(f.x.data(), f.x.data() + static_cast<size_t>(n) * f.dim(), out.x.data());
    out.y.assign(f.y.begin(), f.y.begin() + n);
    return out;
}

Net::Net(const std::vector<int>& sizes, uint64_t seed, bool zero_init) {
    Rng rng(seed);
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
        const int in = sizes[l], out = sizes[l + 1];
        weights_.emplace_back(std::to_string(l) + ".weight", Shape{out, in});
        biases_.emplace_back(std::to_string(l) + ".bias", Shape{out});
        const double sd = zero_init ? 0.0 : 1.0 / std::sqrt(static_cast<double>(in));
        for (float& w : weights_.back().value.vec()) w = static_cast<float>(sd * rng.normal());
    }
}

Var Net::forward(Tape& tape, Var x) {
    for (size_t l = 0; l < weights_.size(); ++l) {
        x = linear(tape, x, weights_[l], &biases_[l]);
        if (l + 1 < weights_.size()) x = relu(tape, x);
    }
    return x;
}

ParameterList Net::parameters() {
    ParameterList list;
    for (size_t l = 0; l < weights_.size(); ++l) {
        list.push_back(&weights_[l]);
        list.push_back(&biases_[l]);
    }
    return list;
}

double train_step(Net& net, Optimizer& opt, const Features& data, int batch, Rng& rng, Tape& tape) {
    static thread_local Tensor x;
    static thread_local std::vector<int> y, rows;
    rows.resize(static_cast<size_t>(batch));
    for (int& r : rows) r = rng.index(data.count());
    gather(data, rows, x, y);
    tape.reset();
    tape.set_statistics(opt.needs_statistics());
    opt.zero_grad();
    try {
        Var loss = softmax_cross_entropy(tape, net.forward(tape, tape.input(x)), y);
        const double value = tape.value(loss)[0];
        tape.backward(loss);
        opt.step();
        return value;
    } catch (const std::runtime_error&) {
        return std::nan("");  // the loss overflowed: the run diverged
    }
}

void gradient_statistics(Net& net, const Features& data, int first, int count, Tape& tape) {
    std::vector<int> rows(static_cast<size_t>(count)), y;
    std::iota(rows.begin(), rows.end(), first);
    Tensor x;
    gather(data, rows, x, y);
    tape.reset();
    tape.set_statistics(true);
    for (Parameter* p : net.parameters()) p->zero_grad();
    tape.backward(softmax_cross_entropy(tape, net.forward(tape, tape.input(x)), y));
}

Curve train_curve(Net& net, Optimizer& opt, const Features& train, const Features& eval, int batch, long steps,
                  int points, Rng& rng, const std::function<void(long)>& before_step) {
    Tape tape;
    Curve c;
    long next = 0;
    for (long t = 0; t <= steps; ++t) {
        if (t == next) {
            c.examples.push_back(static_cast<double>(t) * batch);
            c.loss.push_back(c.diverged ? std::nan("") : evaluate(net, eval, tape).loss);
            c.diverged = c.diverged || !std::isfinite(c.loss.back());
            next = (static_cast<long>(c.loss.size()) * steps) / points;
        }
        if (t == steps || c.diverged) continue;
        if (before_step) before_step(t);
        if (!std::isfinite(train_step(net, opt, train, batch, rng, tape))) c.diverged = true;
    }
    return c;
}

// Runs `net` over `data` in chunks of 1000 rows without gradients and calls
// visit(row, C, label) for each row's outputs (C of them), in row order.
template <class Visit>
void for_each_output(Net& net, const Features& data, Tape& tape, Visit visit) {
    NoGrad no_grad(tape);
    const int chunk = 1000;
    Tensor x;
    std::vector<int> y, rows;
    for (int first = 0; first < data.count(); first += chunk) {
        const int n = std::min(chunk, data.count() - first);
        rows.resize(static_cast<size_t>(n));
        std::iota(rows.begin(), rows.end(), first);
        gather(data, rows, x, y);
        tape.reset();
        const Tensor& z = tape.value(net.forward(tape, tape.input(x)));
        const int C = z.dim(1);
        for (int r = 0; r < n; ++r) visit(z.data() + static_cast<size_t>(r) * C, C, y[static_cast<size_t>(r)]);
    }
}

Evaluation evaluate(Net& net, const Features& data, Tape& tape) {
    Evaluation e;
    for_each_output(net, data, tape, [&](const float* row, int C, int label) {
        const float top = *std::max_element(row, row + C);
        double sum = 0.0;
        for (int c = 0; c < C; ++c) sum += std::exp(row[c] - top);
        e.loss += std::log(sum) + top - row[label];
        e.accuracy += predicted_class(row, C) == label;
    });
    e.loss /= data.count();
    e.accuracy /= data.count();
    if (!std::isfinite(e.loss)) e.loss = std::nan("");
    return e;
}

double final_loss(const Curve& c, int last, double diverged_loss) {
    if (c.diverged) return diverged_loss;
    const size_t n = std::min(c.loss.size(), static_cast<size_t>(last));
    double sum = 0.0;
    for (size_t i = c.loss.size() - n; i < c.loss.size(); ++i) sum += std::min(c.loss[i], diverged_loss);
    return sum / static_cast<double>(n);
}

std::vector<float> predict_probabilities(Net& net, const Features& data, Tape& tape) {
    std::vector<float> p;
    for_each_output(net, data, tape, [&](const float* row, int C, int) {
        const float top = *std::max_element(row, row + C);
        double sum = 0.0;
        for (int c = 0; c < C; ++c) sum += std::exp(row[c] - top);
        for (int c = 0; c < C; ++c) p.push_back(static_cast<float>(std::exp(row[c] - top) / sum));
    });
    return p;
}

double error_rate(const std::vector<float>& p, const Features& data) {
    const size_t C = p.size() / static_cast<size_t>(data.count());
    double wrong = 0.0;
    for (size_t r = 0; r < static_cast<size_t>(data.count()); ++r) {
        const float* row = p.data() + r * C;
        wrong += predicted_class(row, C) != data.y[r];
    }
    return wrong / data.count();
}

double cross_entropy(const std::vector<float>& p, const Features& data) {
    const size_t C = p.size() / static_cast<size_t>(data.count());
    double sum = 0.0;
    for (size_t r = 0; r < static_cast<size_t>(data.count()); ++r)
        sum -= std::log(std::max(1e-30, static_cast<double>(p[r * C + static_cast<size_t>(data.y[r])])));
    return sum / data.count();
}

double curve_spread(const std::vector<Curve>& curves, double diverged_loss) {
    double total = 0.0;
    const size_t points = curves[0].loss.size();
    for (size_t i = 1; i < points; ++i) {
        double lo = 1e30, hi = 0.0;
        for (const Curve& c : curves) {
            const double l = std::isfinite(c.loss[i]) ? std::min(c.loss[i], diverged_loss) : diverged_loss;
            lo = std::min(lo, l), hi = std::max(hi, l);
        }
        total += (hi - lo) / lo;
    }
    return total / static_cast<double>(points - 1);
}

}  // namespace dl::lecture
