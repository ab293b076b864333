#include "apps/common/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "core/blas_setup.h"
#include "apps/common/report.h"
#include "core/core.h"
#include "core/fast/dispatch.h"
#include "layers/dropout.h"
#include "layers/models.h"
#include "layers/sequential.h"
#include "layers/spec.h"
#include "layers/summary.h"

namespace dl {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Dropout layers draw their masks from a state integer; checkpoints keep it so
// that a resumed run draws the same masks.
std::vector<std::uint64_t*> dropout_states(Module& m) {
    std::vector<std::uint64_t*> out;
    if (auto* d = dynamic_cast<Dropout*>(&m)) out.push_back(&d->rng_state());
    if (auto* s = dynamic_cast<Sequential*>(&m))
        for (size_t i = 0; i < s->size(); ++i)
            for (std::uint64_t* p : dropout_states((*s)[i])) out.push_back(p);
    return out;
}

int argmax(const float* row, int n) {
    return static_cast<int>(std::max_element(row, row + n) - row);
}

// Names of the optimizers whose options include N_g (momentum's time constant).
bool uses_n_g(const std::string& name) {
    return name == "momentum" || name == "momentum-ema" || name == "adam" || name == "adam-lecture";
}

std::string join_args(const std::vector<std::string>& args) {
    std::string s;
    for (const std::string& a : args) s += a + '\n';
    return s;
}

}  // namespace

// Where the loop is, and the running sums of the current epoch.
struct Trainer::Progress {
    int epoch = 0;          // epoch in progress (or next to start)
    int batch = 0;          // batches of `epoch` already done
    long step = 0;          // optimizer steps so far
    double loss_sum = 0, correct = 0, seen = 0;  // this epoch, over all ranks
    double noise_sum = 0;   // gradient noise scale summed over this epoch's steps
    long noise_count = 0;
    double train_seconds = 0, examples = 0;      // all epochs, for examples/s
    double best_accuracy = -1;
    int snapshots = 0;
};

void install_interrupt_handler() {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
}

Trainer::Trainer(const TrainOptions& options, Distributed& dist)
    : o_(options), dist_(dist), p_(std::make_unique<Progress>()) {
    if (o_.epochs < 1) throw std::invalid_argument("--epochs must be at least 1, got " + std::to_string(o_.epochs));
    if (o_.batch_size < 1) throw std::invalid_argument("--batch-size must be at least 1, got " + std::to_string(o_.batch_size));
    if (o_.batch_size < dist_.size())
        throw std::invalid_argument("--batch-size " + std::to_string(o_.batch_size) + " is smaller than the " +
                                    std::to_string(dist_.size()) + " ranks; each rank needs an example");
    set_num_threads(o_.threads);
    // Before the data loads: a bad spec, bad optimizer options, or statistics with a
    // layer that mixes examples fail at once (the optimizer is built again below).
    spec_.layers = model_layers(o_.model);
    growth_ = growth_config();
    build_optimizer(batch_size_for(0));
    if (opt_->needs_statistics() || o_.stats) check_statistics_allowed(parse_spec(spec_.layers));
    load_data();
    model_ = make_model(spec_, static_cast<unsigned>(o_.seed));
    params_ = model_->parameters();
    build_optimizer(batch_size_for(0));
    ScheduleConfig sc = o_.schedule;
    sc.lr = opt_->lr();
    schedule_ = make_schedule(sc);
    tape_.set_statistics(opt_->needs_statistics() || o_.stats);
}

Trainer::~Trainer() = default;

void Trainer::log(const std::string& line) const {
    if (dist_.is_root()) std::fprintf(stderr, "%s\n", line.c_str());
}

void Trainer::load_data() {
    if (!o_.images_dir.empty()) {
        ImageFolderOptions io;
        io.channels = o_.rgb ? 3 : 1;
        io.height = io.width = o_.image_size;
        Dataset all = load_image_folder(o_.images_dir, io);
        const int n_test = std::max(1, static_cast<int>(std::lround(all.count * o_.test_split)));
        if (n_test >= all.count)
            throw std::invalid_argument("--images " + o_.images_dir + ": " + std::to_string(all.count) +
                                        " images are too few to hold out a test set");
        Split s = split_train_val(all.count, n_test, o_.seed ^ 0x7e57);
        train_ = subset(all, s.train);
        test_ = subset(all, s.val);
    } else {
        const std::string dir = o_.data_dir.empty() ? default_data_dir() : o_.data_dir;
        train_ = load_mnist_dir(dir, true);
        test_ = load_mnist_dir(dir, false);
    }
    const int n_val = static_cast<int>(std::lround(train_.count * o_.val_split));
    Split s = split_train_val(train_.count, n_val, o_.seed);
    train_idx_ = s.train;
    val_idx_ = s.val;
    if (o_.limit > 0 && o_.limit < static_cast<long>(train_idx_.size())) train_idx_.resize(o_.limit);
    for (int i = 0; i < test_.count; ++i) test_idx_.push_back(i);
    norm_ = compute_normalization(train_, train_idx_);
    spec_ = ModelSpec{o_.model, train_.channels, train_.height, train_.width, train_.classes, spec_.layers};
}

// From the command line's options to the optimizer's, applying the lecture's
// batch-size rule when asked ("Putting It Together": eta', N'_g are per example).
void Trainer::build_optimizer(int batch_size) {
    OptimizerConfig c = o_.opt;
    if (o_.scale_with_batch) {
        const float eta1 = c.lr.value_or(1e-3f);
        const float ng1 = c.n_g.value_or(10.0f);
        BatchScaled s = scale_for_batch(eta1, ng1, batch_size);
        c.lr = o_.optimizer == "momentum" ? s.lr : s.lr_ema;
        if (uses_n_g(o_.optimizer)) c.n_g = s.n_g;
    }
    if (o_.optimizer == "adaptive" && !c.per_example_sigma.value_or(false)) c.batch_size = batch_size;
    if (o_.optimizer == "langevin" || o_.optimizer == "langevin-precond") c.seed = o_.seed;  // the noise
    opt_ = make_optimizer(o_.optimizer, params_, c);
}

// Batch growth (Smith et al.): where step decay would divide eta by 1/decay,
// the batch grows by that factor instead, up to 4096 examples.
BatchGrowthConfig Trainer::growth_config() const {
    BatchGrowthConfig g;
    g.batch = o_.batch_size;
    g.growth = 1.0f / o_.decay_factor;
    g.milestones = o_.milestones;
    g.max_batch = std::max(o_.batch_size, 4096);
    return g;
}

int Trainer::batch_size_for(int epoch) const {
    return o_.schedule_name == "batch-growth" ? batch_growth_at(growth_, epoch).batch : o_.batch_size;
}

float Trainer::lr_at(long step, double epoch) const {
    const float lr = schedule_->lr(step, epoch);
    if (o_.schedule_name != "batch-growth") return lr;
    return lr * batch_growth_at(growth_, static_cast<int>(epoch)).lr_factor;
}

void Trainer::resume(const Checkpoint& ck) {
    load_state(*model_, ck, "checkpoint");
    auto get = [&](const std::string& key) -> const std::string& {
        auto it = ck.extra.find(key);
        if (it == ck.extra.end())
            throw std::runtime_error("checkpoint has no '" + key + "' record: it was not written by build/train");
        return it->second;
    };
    std::istringstream opt(get("optimizer"));
    opt_->load_state(opt);
    std::istringstream in(get("progress"));
    Progress& p = *p_;
    in >> p.epoch >> p.batch >> p.step >> p.loss_sum >> p.correct >> p.seen >> p.noise_sum >> p.noise_count >>
        p.train_seconds >> p.examples >> p.best_accuracy >> p.snapshots;
    std::vector<std::uint64_t*> states = dropout_states(*model_);
    for (std::uint64_t* s : states) in >> *s;
    if (!in) throw std::runtime_error("checkpoint: the 'progress' record is damaged");
}

std::map<std::string, std::string> Trainer::extras() const {
    std::map<std::string, std::string> x;
    std::ostringstream opt;
    opt_->save_state(opt);
    x["optimizer"] = opt.str();
    std::ostringstream p;
    p.precision(17);
    const Progress& q = *p_;
    p << q.epoch << ' ' << q.batch << ' ' << q.step << ' ' << q.loss_sum << ' ' << q.correct << ' ' << q.seen << ' '
      << q.noise_sum << ' ' << q.noise_count << ' ' << q.train_seconds << ' ' << q.examples << ' '
      << q.best_accuracy << ' ' << q.snapshots;
    for (std::uint64_t* s : dropout_states(*model_)) p << ' ' << *s;
    x["progress"] = p.str();
    x["args"] = join_args(o_.args);
    std::ostringstream n;
    n.precision(9);
    for (size_t c = 0; c < norm_.mean.size(); ++c) n << norm_.mean[c] << ' ' << norm_.std[c] << ' ';
    x["normalization"] = n.str();
    std::string names;
    for (const std::string& s : train_.class_names) names += s + '\n';
    x["class_names"] = names;
    return x;
}

void Trainer::save(const std::string& path) {
    if (dist_.is_root()) save_checkpoint(path, spec_, *model_, extras());
}

// One step on this rank's shard of a global batch.
void Trainer::train_step(const Batch& batch, int epoch, int index, int batches) {
    const int global = static_cast<int>(batch.y.size());
    int begin = 0, end = 0;
    dist_.shard(global, begin, end);
    const int local = end - begin;
    const int image = spec_.channels * spec_.height * spec_.width;
    tape_.reset();
    opt_->zero_grad();
    double sums[3] = {0.0, 0.0, static_cast<double>(g_interrupted)};  // loss * examples, correct, stop
    if (local > 0) {  // a last batch smaller than the rank count leaves some ranks without examples
        labels_.assign(batch.y.begin() + begin, batch.y.begin() + end);
        Var x = tape_.input(batch.x.data() + static_cast<size_t>(begin) * image,
                            Shape{local, spec_.channels, spec_.height, spec_.width});
        Var logits = model_->forward(tape_, x);
        Var loss = softmax_cross_entropy(tape_, logits, labels_);
        tape_.backward(loss);
        const float* z = tape_.value(logits).data();
        for (int r = 0; r < local; ++r)
            sums[1] += argmax(z + static_cast<size_t>(r) * spec_.classes, spec_.classes) == labels_[r];
        sums[0] = tape_.value(loss)[0] * static_cast<double>(local);
    }
    if (dist_.active()) {
        allreduce_gradients(local, global);
        dist_.allreduce_sum(sums, 3);
    }
    if (sums[2] > 0) g_interrupted = 1;  // one rank interrupted: all stop at the same step
    Progress& p = *p_;
    opt_->set_lr(lr_at(p.step, epoch + static_cast<double>(index) / batches));
    opt_->step();
    ++p.step;
    if (o_.max_steps > 0 && p.step >= o_.max_steps) g_interrupted = 1;
    p.loss_sum += sums[0];
    p.correct += sums[1];
    p.seen += global;
    if (tape_.statistics()) {
        p.noise_sum += gradient_noise_scale(params_).noise_scale;
        ++p.noise_count;
    }
}

// Sums gradients (and statistics) over ranks in one fused buffer. Each rank's
// gradient is a mean over its `local` examples; weighting it by local/global
// makes the sum the mean over the global batch. grad_sq is weighted the same way.
void Trainer::allreduce_gradients(int local, int global) {
    const bool stats = tape_.statistics();
    size_t n = 0;
    for (Parameter* q : params_) n += q->size() * (stats ? 2 : 1);
    reduce_buf_.resize(n);
    const float w = static_cast<float>(local) / static_cast<float>(global);
    float* b = reduce_buf_.data();
    for (Parameter* q : params_) {
        for (size_t i = 0; i < q->size(); ++i) *b++ = w * q->grad[i];
        if (stats)
            for (size_t i = 0; i < q->size(); ++i) *b++ = w * q->grad_sq[i];
    }
    dist_.allreduce_sum(reduce_buf_.data(), n);
    b = reduce_buf_.data();
    for (Parameter* q : params_) {
        for (size_t i = 0; i < q->size(); ++i) q->grad[i] = *b++;
        if (stats) {
            for (size_t i = 0; i < q->size(); ++i) q->grad_sq[i] = *b++;
            q->stats_batch = global;
        }
    }
}

// Returns false when interrupted.
bool Trainer::train_epoch(int epoch) {
    const int bs = batch_size_for(epoch);
    if (!loader_ || bs != loader_batch_) {
        DataLoaderOptions lo;
        lo.batch_size = bs;
        lo.seed = o_.seed;
        lo.norm = norm_;
        if (o_.augment) {
            lo.augment.crop_padding = o_.crop_padding;
            lo.augment.horizontal_flip = true;
        }
        loader_ = std::make_unique<DataLoader>(train_, train_idx_, lo);
        loader_batch_ = bs;
        if (o_.schedule_name == "batch-growth" && opt_->t() > 0 && o_.optimizer == "adaptive") build_optimizer(bs);
    }
    model_->train();
    loader_->start_epoch(epoch);
    const int batches = loader_->batches_per_epoch();
    Progress& p = *p_;
    for (int skip = 0; skip < p.batch; ++skip) loader_->next();  // resuming mid-epoch
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o_.epochs), batches);
    const double t0 = now_seconds();
    double seen0 = p.seen;
    while (const Batch* batch = loader_->next()) {
        train_step(*batch, epoch, p.batch, batches);
        ++p.batch;
        if (dist_.is_root()) bar.update(p.batch, static_cast<long>(p.seen - seen0), p.loss_sum / std::max(1.0, p.seen));
        if (g_interrupted) break;
    }
    bar.finish();
    p.train_seconds += now_seconds() - t0;
    p.examples += p.seen - seen0;
    return !g_interrupted;
}

Trainer::Eval Trainer::evaluate(const Dataset& d, const std::vector<int>& indices) {
    Eval e;
    if (indices.empty()) return e;
    model_->eval();
    DataLoaderOptions lo;
    lo.batch_size = 250;  // big enough for fast GEMMs, small enough to keep activations small
    lo.shuffle = false;
    lo.norm = norm_;
    lo.background = false;
    DataLoader loader(d, indices, lo);
    loader.start_epoch(0);
    NoGrad ng(eval_tape_);
    double sums[2] = {0, 0};
    int b = 0;
    std::vector<int> labels;
    while (const Batch* batch = loader.next()) {
        if (b++ % dist_.size() != dist_.rank()) continue;  // evaluation is sharded by batch
        eval_tape_.reset();
        const int n = static_cast<int>(batch->y.size());
        Var logits = model_->forward(eval_tape_, eval_tape_.input(batch->x));
        labels.assign(batch->y.begin(), batch->y.end());
        sums[0] += eval_tape_.value(softmax_cross_entropy(eval_tape_, logits, labels, Reduction::Sum))[0];
        const float* z = eval_tape_.value(logits).data();
        for (int r = 0; r < n; ++r) sums[1] += argmax(z + static_cast<size_t>(r) * spec_.classes, spec_.classes) == labels[r];
    }
    dist_.allreduce_sum(sums, 2);
    model_->train();
    e.loss = sums[0] / indices.size();
    e.accuracy = sums[1] / indices.size();
    return e;
}

TrainResult Trainer::run() {
    const double start = now_seconds();
    if (o_.out.empty()) throw std::invalid_argument("trainer: no output directory");
    if (dist_.is_root()) make_dirs(o_.out);
    const std::vector<std::string> header{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                                          "test_acc", "lr", "batch_size", "examples_per_s", "noise_scale", "seconds"};
    std::unique_ptr<CsvWriter> csv;
    if (dist_.is_root()) csv = std::make_unique<CsvWriter>(o_.out + "/metrics.csv", header, p_->epoch > 0 || p_->batch > 0);
    log("model " + o_.model + " (" + std::to_string(count_parameters(*model_)) + " parameters), optimizer " +
        o_.optimizer + (tape_.statistics() ? " with per-example statistics" : "") + ", " +
        std::to_string(train_idx_.size()) + " training examples" +
        (dist_.active() ? ", " + std::to_string(dist_.size()) + " ranks" : "") + ", " +
        std::to_string(o_.threads) + " threads, BLAS kernels " + blas_kernels() + ", SIMD " + fast::simd_target());
    if (dist_.is_root()) log(summary(*model_, Shape{spec_.channels, spec_.height, spec_.width}));
    TrainResult r;
    Eval test;
    Progress& p = *p_;
    while (p.epoch < o_.epochs) {
        const double t0 = now_seconds();
        if (!train_epoch(p.epoch)) {
            save(o_.out + "/model.ckpt");
            r.interrupted = true;
            log("interrupted: saved a resumable checkpoint; continue with: build/train --resume " + o_.out + "/model.ckpt");
            break;
        }
        const double train_secs = now_seconds() - t0;
        Eval val = evaluate(train_, val_idx_);
        test = evaluate(test_, test_idx_);
        const int e = p.epoch;
        const double noise = p.noise_count ? p.noise_sum / p.noise_count : NAN;
        const double rate = p.seen / std::max(train_secs, 1e-9);
        if (csv)
            csv->row({double(e + 1), p.loss_sum / p.seen, p.correct / p.seen, val_idx_.empty() ? NAN : val.loss,
                      val_idx_.empty() ? NAN : val.accuracy, test.loss, test.accuracy, opt_->lr(),
                      double(loader_batch_), rate, noise, now_seconds() - start});
        char line[256];
        std::snprintf(line, sizeof line, "epoch %d/%d  train loss %.4f acc %.4f  %s test loss %.4f acc %.4f  lr %.3g  %.0f ex/s",
                      e + 1, o_.epochs, p.loss_sum / p.seen, p.correct / p.seen,
                      val_idx_.empty() ? "" : ("val acc " + std::to_string(val.accuracy).substr(0, 6) + " ").c_str(),
                      test.loss, test.accuracy, opt_->lr(), rate);
        log(std::string(line) + (p.noise_count ? "  noise scale " + std::to_string(noise) : ""));
        const double score = val_idx_.empty() ? test.accuracy : val.accuracy;
        p.epoch += 1;
        p.batch = 0;
        p.loss_sum = p.correct = p.seen = p.noise_sum = 0;
        p.noise_count = 0;
        if (score > p.best_accuracy) {
            p.best_accuracy = score;
            save(o_.out + "/best.ckpt");
        }
        if (o_.snapshots && schedule_->cycle_ends(p.epoch)) save(o_.out + "/snapshot-" + std::to_string(++p.snapshots) + ".ckpt");
        save(o_.out + "/model.ckpt");
    }
    if (dist_.is_root() && p.epoch > 0) {
        std::string note;
        std::vector<std::string> losses{"train_loss", "test_loss"}, accuracies{"train_acc", "test_acc"};
        if (!val_idx_.empty()) {
            losses.insert(losses.begin() + 1, "val_loss");
            accuracies.insert(accuracies.begin() + 1, "val_acc");
        }
        if (!plot_csv(o_.out + "/metrics.csv", o_.out + "/curves.png",
                      {{"loss", "epoch", "loss", "epoch", losses}, {"accuracy", "epoch", "accuracy", "epoch", accuracies}},
                      note))
            log("note: " + note);
    }
    r.test_accuracy = test.accuracy;
    r.test_loss = test.loss;
    r.train_examples_per_s = p.examples / std::max(p.train_seconds, 1e-9);
    r.seconds = now_seconds() - start;
    r.epochs = p.epoch;
    r.checkpoint = o_.out + "/model.ckpt";
    if (dist_.active())
        log("communication: " + std::to_string(1e3 * dist_.comm_seconds() / std::max(1L, p.step)) + " ms per step");
    return r;
}

}  // namespace dl
