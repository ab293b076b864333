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
#include "apps/common/task.h"
#include "core/core.h"
#include "core/fast/dispatch.h"
#include "core/fast/winograd_hwy.h"
#include "layers/evaluate.h"
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

int argmax(const float* row, int n) {
    return static_cast<int>(std::max_element(row, row + n) - row);
}

// The value in effect of a schedule option: the user's, else the entry's default ("" if it has no such option).
std::string schedule_option(const std::string& schedule, const OptionValues& values, const std::string& option) {
    if (values.has(option)) return values.text(option);
    for (const OptionSpec& o : find_schedule(schedule).options)
        if (o.name == option) return o.default_text;
    return "";
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

    // Saved in checkpoints as the record "progress" (core/fields.h): the one list of fields.
    void state_fields(Fields& f) {
        f("epoch", epoch);
        f("batch", batch);
        f("step", step);
        f("loss_sum", loss_sum);
        f("correct", correct);
        f("seen", seen);
        f("noise_sum", noise_sum);
        f("noise_count", noise_count);
        f("train_seconds", train_seconds);
        f("examples", examples);
        f("best_accuracy", best_accuracy);
        f("snapshots", snapshots);
    }
};

InterruptHandler::InterruptHandler()
    : previous_int_(std::signal(SIGINT, on_interrupt)), previous_term_(std::signal(SIGTERM, on_interrupt)) {
    g_interrupted = 0;
}

InterruptHandler::~InterruptHandler() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
}

Trainer::Trainer(const TrainOptions& options, Distributed& dist)
    : o_(options), dist_(dist), p_(std::make_unique<Progress>()) {
    if (o_.epochs < 1) throw std::invalid_argument("--epochs must be at least 1, got " + std::to_string(o_.epochs));
    if (o_.batch_size < 1) throw std::invalid_argument("--batch-size must be at least 1, got " + std::to_string(o_.batch_size));
    if (o_.batch_size < dist_.size())
        throw std::invalid_argument("--batch-size " + std::to_string(o_.batch_size) + " is smaller than the " +
                                    std::to_string(dist_.size()) + " ranks; each rank needs an example");
    set_num_threads(o_.threads);
    // Before the data loads: a bad spec, bad optimizer or schedule options, or
    // statistics with a layer that mixes examples fail at once (the optimizer is
    // built again below, on the model's parameters). The schedule starts from the
    // optimizer's learning rate (its default, or --lr, scaled with the batch if asked).
    spec_.layers = model_layers(o_.model);
    build_optimizer(o_.batch_size);
    schedule_ = make_schedule(o_.schedule, ScheduleContext{opt_->lr(), o_.batch_size}, o_.schedule_values);
    if (opt_->needs_statistics() || o_.stats) check_statistics_allowed(parse_spec(spec_.layers));
    load_data();
    model_ = make_model(spec_, static_cast<unsigned>(o_.seed));
    params_ = model_->parameters();
    opt_.reset();
    build_optimizer(batch_size_for(0));
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
        io.skip_unreadable = o_.skip_unreadable;
        io.stop = &g_interrupted;
        ImageFolderReport report;
        Dataset all = load_image_folder(o_.images_dir, io, &report);
        if (!report.ignored.empty())
            log("note: " + o_.images_dir + ": left out " + std::to_string(report.ignored.size()) +
                " files that are not .png, .jpg, .jpeg or .bmp images (e.g. " + printable(report.ignored[0]) + ")");
        if (!report.skipped.empty())
            log("note: " + o_.images_dir + ": --skip-unreadable left out " + std::to_string(report.skipped.size()) +
                " images that could not be read (e.g. " + printable(report.skipped[0]) + ")");
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
        test_ = load_mnist_dir(dir, false, train_.classes);  // a test label past the training classes is refused
        check_test_set();
    }
    if (g_interrupted) throw LoadInterrupted("interrupted while loading the data; nothing was written");
    int n_val = static_cast<int>(std::lround(train_.count * o_.val_split));
    if (o_.val_split > 0 && n_val == 0) n_val = 1;
    if (n_val >= train_.count)
        throw std::invalid_argument("--val-split " + std::to_string(o_.val_split) + " leaves no training example of " +
                                    std::to_string(train_.count));
    Split s = split_train_val(train_.count, n_val, o_.seed);
    train_idx_ = s.train;
    val_idx_ = s.val;
    if (o_.limit > 0 && o_.limit < static_cast<long>(train_idx_.size())) train_idx_.resize(o_.limit);
    for (int i = 0; i < test_.count; ++i) test_idx_.push_back(i);
    data_stats_ = norm_ = compute_normalization(train_, train_idx_);
    spec_ = ModelSpec{o_.model, train_.channels, train_.height, train_.width, train_.classes, spec_.layers};
}

// The test set must fit the training set: checked before any training, naming both files.
void Trainer::check_test_set() const {
    if (test_.channels != train_.channels || test_.height != train_.height || test_.width != train_.width)
        throw std::invalid_argument("the test images " + test_.source + " are " + std::to_string(test_.channels) + "x" +
                                    std::to_string(test_.height) + "x" + std::to_string(test_.width) +
                                    ", the training images " + train_.source + " " + std::to_string(train_.channels) +
                                    "x" + std::to_string(train_.height) + "x" + std::to_string(train_.width) +
                                    "; both splits must come from one data set");
    if (test_.class_names != train_.class_names)
        throw std::invalid_argument("the test set " + test_.source + " has other classes than the training set " +
                                    train_.source);
}

// The values the optimizer is made with while batches hold `batch_size` examples:
// the user's, with what the registry entry says a program fills (the seed, the
// batch size). With --scale-with-batch the per-example lr and time constant are
// scaled once, for the batch size the run starts with (lecture: "Putting It
// Together"); a schedule that grows the batch later keeps them (Smith et al.:
// the batch grows instead of eta decaying).
OptionValues Trainer::optimizer_values(int batch_size) const {
    OptionValues v = training_values(o_.optimizer, o_.optimizer_values,
                                     TrainingSetup{o_.batch_size, o_.seed, o_.scale_with_batch});
    for (const OptionSpec& s : find_optimizer(o_.optimizer).options)
        if (s.role == OptionRole::BatchSize && !o_.optimizer_values.has(s.name)) v.set(s.name, batch_size);
    return v;
}

// A new optimizer (fresh state) when none exists or its values change with the batch size.
void Trainer::build_optimizer(int batch_size) {
    OptionValues v = optimizer_values(batch_size);
    if (opt_ && v.all() == opt_values_.all()) return;
    opt_ = make_optimizer(o_.optimizer, params_, v);
    opt_values_ = std::move(v);
}

int Trainer::batch_size_for(int epoch) const { return schedule_->batch_size(epoch, o_.batch_size); }

float Trainer::lr_at(long step, double epoch) const { return schedule_->lr(step, epoch); }

void Trainer::resume(const Checkpoint& ck, const std::string& path) {
    const std::string where = "--resume " + path + ": ";
    const Task task = read_task(ck, path);
    check_data_fits(task, "the run", train_, "the training data " + train_.source + " now");
    // The statistics of the training split as the run began (the model's normalisation may be
    // another's, inherited with --init-from): other numbers now mean other data.
    Normalization then = task.norm;
    if (auto it = ck.extra.find("train_statistics"); it != ck.extra.end()) {
        Fields f = Fields::reader(it->second, where + "the 'train_statistics' record");
        then = Normalization{data_stats_.mean, data_stats_.std};
        f("mean", then.mean);
        f("std", then.std);
        f.finish();
    }
    if (!similar_normalization(then, data_stats_))
        throw std::invalid_argument(where + "the training data " + train_.source + " has changed since the run began (" +
                                    describe_normalization(data_stats_) + " now, " + describe_normalization(then) +
                                    " then)");
    if (ck.spec.name != spec_.name)
        throw std::invalid_argument(where + "it holds model " + ck.spec.name + ", not " + spec_.name);
    load_state(*model_, ck, path);
    norm_ = task.norm;
    auto get = [&](const std::string& key) -> const std::string& {
        auto it = ck.extra.find(key);
        if (it == ck.extra.end())
            throw std::runtime_error(where + "no '" + key + "' record: it was not written by build/train");
        return it->second;
    };
    Progress p;
    Fields in = Fields::reader(get("progress"), where + "the 'progress' record");
    p.state_fields(in);
    in.finish();
    if (p.epoch < 0 || p.batch < 0 || p.step < 0)
        throw std::runtime_error(where + "the 'progress' record holds epoch " + std::to_string(p.epoch) + ", batch " +
                                 std::to_string(p.batch) + ", step " + std::to_string(p.step));
    // The state belongs to the optimizer of the epoch of the last step (the one in
    // progress, or the one just finished): made for that epoch's batch size, so that
    // a batch that grows next epoch gives a new optimizer then, as in a straight run.
    build_optimizer(batch_size_for(p.batch > 0 || p.epoch == 0 ? p.epoch : p.epoch - 1));
    std::istringstream opt(get("optimizer"));
    opt_->load_state(opt);
    *p_ = p;
}

void Trainer::init_from(const Checkpoint& ck, const std::string& path) {
    const std::string what = "--init-from " + path;
    const Task task = read_task(ck, path);
    if (ck.spec.name != spec_.name)
        throw std::invalid_argument(what + " holds model " + ck.spec.name + "; --model " + spec_.name +
                                    " cannot take its weights");
    check_data_fits(task, what, train_, "the training data " + train_.source);
    load_state(*model_, ck, path);
    // The weights expect inputs normalised as in their training: keep its statistics.
    norm_ = task.norm;
    log("starting from the weights of " + path + " (" + describe_normalization(norm_) +
        "), with a new optimizer, schedule and data order");
}

std::map<std::string, std::string> Trainer::extras() const {
    std::map<std::string, std::string> x;
    std::ostringstream opt;
    opt_->save_state(opt);
    x["optimizer"] = opt.str();
    Fields progress = Fields::writer("the training progress");
    p_->state_fields(progress);
    x["progress"] = progress.bytes();
    x["args"] = encode_strings(o_.args);
    Fields stats = Fields::writer("the training data's statistics");
    Normalization d = data_stats_;
    stats("mean", d.mean);
    stats("std", d.std);
    x["train_statistics"] = stats.bytes();
    return x;
}

void Trainer::save(const std::string& path) {
    if (dist_.is_root()) save_checkpoint(path, spec_, *model_, extras(), data_info(train_.class_names, norm_));
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
        try {
            Var logits = model_->forward(tape_, x);
            Var loss = softmax_cross_entropy(tape_, logits, labels_);
            tape_.backward(loss);
            const float* z = tape_.value(logits).data();
            for (int r = 0; r < local; ++r)
                sums[1] += argmax(z + static_cast<size_t>(r) * spec_.classes, spec_.classes) == labels_[r];
            sums[0] = tape_.value(loss)[0] * static_cast<double>(local);
        } catch (const std::runtime_error& e) {  // the tape found NaN or infinity
            step_error_ = e.what();
            sums[0] = NAN;  // every rank learns of it through the sums, and all stop at this step
        }
    }
    if (dist_.active()) {
        allreduce_gradients(local, global);
        dist_.allreduce_sum(sums, 3);
    }
    // Divergence is judged before the step, so the weights that gave this loss are not moved further.
    const double mean_loss = sums[0] / global;
    if (!std::isfinite(mean_loss)) diverged(mean_loss, step_error_);
    if (mean_loss > 100.0 * std::log(std::max(2, spec_.classes))) diverged(mean_loss, "");
    if (sums[2] > 0) g_interrupted = 1;  // one rank interrupted: all stop at the same step
    Progress& p = *p_;
    opt_->set_lr(lr_at(p.step, epoch + static_cast<double>(index) / batches));
    opt_->step();
    ++p.step;
    if (o_.max_steps > 0 && p.step - start_step_ >= o_.max_steps) g_interrupted = 1;
    p.loss_sum += sums[0];
    p.correct += sums[1];
    p.seen += global;
    if (tape_.statistics()) {
        p.noise_sum += gradient_noise_scale(params_).noise_scale;
        ++p.noise_count;
    }
}

// The loss of a batch is non-finite, or a hundred times an untrained model's
// (ln C): the run has diverged. Says where, with which learning rate, and what to try.
void Trainer::diverged(double loss, const std::string& detail) const {
    const Progress& p = *p_;
    const float lr = lr_at(p.step, p.epoch + static_cast<double>(p.batch) / std::max(1, loader_ ? loader_->batches_per_epoch() : 1));
    char value[32], line[512];
    std::snprintf(value, sizeof value, "%.3g", loss);
    std::snprintf(line, sizeof line,
                  "training diverged at step %ld (epoch %d, batch %d): the batch loss is %s%s (an untrained model's "
                  "is %.3g) with learning rate %.3g (%s); try a smaller --lr such as %.3g%s",
                  p.step + 1, p.epoch + 1, p.batch + 1, std::isfinite(loss) ? value : "not finite",
                  detail.empty() ? "" : (" (" + detail + ")").c_str(), std::log(std::max(2, spec_.classes)),
                  static_cast<double>(lr), o_.optimizer.c_str(), static_cast<double>(lr) / 10.0,
                  warm_up_hint().c_str());
    std::string msg = line;
    if (p.epoch > 0) msg += "; " + o_.out + "/model.ckpt holds epoch " + std::to_string(p.epoch) + ", before it";
    throw Diverged(msg);
}

// ", or a warm-up (--warmup-epochs 1)" when the schedule can warm up and does not.
std::string Trainer::warm_up_hint() const {
    const std::string epochs = schedule_option(o_.schedule, o_.schedule_values, "warmup_epochs");
    return !epochs.empty() && parse_real(epochs, o_.schedule, "warmup_epochs") == 0.0f
               ? ", or a warm-up (--warmup-epochs 1)" : "";
}

// After an epoch: a weight that became NaN or infinite in the last step shows no loss yet.
void Trainer::check_finite_parameters(const std::string& when) const {
    for (const Parameter* q : params_)
        for (size_t i = 0; i < q->size(); ++i)
            if (!std::isfinite(q->value[i]))
                diverged(NAN, "parameter '" + q->name + "' became " + (std::isnan(q->value[i]) ? "NaN" : "infinite") +
                                  " " + when);
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
        // A last batch that would give a rank a single example is left out: batch norm
        // cannot normalise one example, and one example makes a noisy step.
        const int last = static_cast<int>(train_idx_.size() % static_cast<size_t>(bs));
        lo.drop_last = o_.drop_last || (last > 0 && last < 2 * dist_.size());
        if (lo.drop_last && last > 0 && p_->epoch == epoch && p_->batch == 0)
            log("note: the last batch of each epoch (" + std::to_string(last) + (last == 1 ? " example" : " examples") +
                ") is left out" +
                (o_.drop_last ? " (--drop-last)" : ": a rank would get a single example, which batch norm cannot "
                                                   "normalise; --drop-last leaves out every incomplete last batch"));
        if (o_.augment) {
            lo.augment.crop_padding = o_.crop_padding;
            lo.augment.horizontal_flip = true;
        }
        loader_ = std::make_unique<DataLoader>(train_, train_idx_, lo);
        loader_batch_ = bs;
        // An optimizer that takes the batch size (the registry entry says so) is made
        // anew for the new one; for the others this keeps the optimizer as it is.
        build_optimizer(bs);
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
    DataLoaderOptions lo;
    lo.batch_size = 250;  // big enough for fast GEMMs, small enough to keep activations small
    lo.shuffle = false;
    lo.norm = norm_;
    lo.background = false;
    DataLoader loader(d, indices, lo);
    // Each rank evaluates every size-th batch (layers/evaluate.h); the sums are added up.
    const EvaluationSums s = evaluate_sums(*model_, loader, {&eval_tape_, dist_.rank(), dist_.size()});
    double sums[2] = {s.loss, s.correct};
    dist_.allreduce_sum(sums, 2);
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
    const std::string comment =
        "best.ckpt is the epoch with the highest val_acc, on a validation split held out from the training set "
        "(--val-split);\ntest_loss and test_acc are results only: they never choose a checkpoint.";
    Progress& p = *p_;
    std::unique_ptr<CsvWriter> csv;
    // On --resume, rows past the checkpoint's epoch (logged by a run killed before its checkpoint) go.
    if (dist_.is_root())
        csv = std::make_unique<CsvWriter>(o_.out + "/metrics.csv", header, p.epoch > 0 || p.batch > 0, comment, p.epoch);
    log("model " + o_.model + " (" + std::to_string(count_parameters(*model_)) + " parameters), optimizer " +
        o_.optimizer + (tape_.statistics() ? " with per-example statistics" : "") + ", " +
        std::to_string(train_idx_.size()) + " training examples, " +
        (val_idx_.empty() ? std::string("no validation split (best.ckpt is not written)")
                          : std::to_string(val_idx_.size()) + " for validation") +
        (dist_.active() ? ", " + std::to_string(dist_.size()) + " ranks" : "") + ", " +
        std::to_string(o_.threads) + " threads, BLAS kernels " + blas_kernels() + ", SIMD " + fast::simd_target() +
        (fast::winograd_enabled() ? "" : " (DL_WINOGRAD=0: 5x5 convolutions by the direct kernels)"));
    log("settings in effect: " + o_.optimizer + " " + optimizer_settings(o_.optimizer, opt_values_) + "; schedule " +
        o_.schedule + " " + schedule_settings(o_.schedule, o_.schedule_values));
    if (dist_.is_root()) log(summary(*model_, Shape{spec_.channels, spec_.height, spec_.width}));
    TrainResult r;
    Eval test{NAN, NAN};  // reported as null when no epoch ended (interrupted in the first)
    start_step_ = p.step;
    if (p.epoch >= o_.epochs) {  // --resume of a finished run: report its result, train nothing
        test = evaluate(test_, test_idx_);
        log("the run has finished its " + std::to_string(p.epoch) + " epochs: nothing to train (raise --epochs to go on)");
    }
    while (p.epoch < o_.epochs) {
        const double t0 = now_seconds();
        if (!train_epoch(p.epoch)) {
            save(o_.out + "/model.ckpt");
            r.interrupted = true;
            log("interrupted: saved a resumable checkpoint; continue with: build/train --resume " + o_.out + "/model.ckpt");
            break;
        }
        check_finite_parameters("in the last step of epoch " + std::to_string(p.epoch + 1));
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
        p.epoch += 1;
        p.batch = 0;
        p.loss_sum = p.correct = p.seen = p.noise_sum = 0;
        p.noise_count = 0;
        // best.ckpt is chosen on validation only; without a validation split there is none.
        if (!val_idx_.empty() && val.accuracy > p.best_accuracy) {
            p.best_accuracy = val.accuracy;
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
