// The training loop shared by build/train (and its MPI mode) and the examples:
// data -> batches -> model.forward on the tape -> loss -> backward (with
// per-example statistics when asked) -> [allreduce across ranks] -> optimizer
// step, then per-epoch evaluation, metrics, checkpoints and curves.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/common/distributed.h"
#include "data/data.h"
#include "layers/checkpoint.h"
#include "layers/module.h"
#include "optim/optim.h"

namespace dl {

struct TrainOptions {
    std::string model = "cnn";
    std::string data_dir;           // empty: the Fashion-MNIST package
    std::string images_dir;         // an image folder instead of IDX files
    int image_size = 28;            // image folders: resized to this square
    bool rgb = false;               // image folders: keep colour
    double test_split = 0.2;        // image folders: fraction held out as the test set
    int epochs = 5;
    int batch_size = 64;
    // The optimizer and the schedule by their registry names (optim/registry.h), with
    // only the options the user set: each keeps its own defaults, and the trainer
    // fills what the entry says a program fills (seed, batch size).
    std::string optimizer = default_optimizer_name();
    OptionValues optimizer_values;  // {"lr", "0.01"}, {"n_g", "100"}, ...
    std::string schedule = default_schedule_name();
    OptionValues schedule_values;   // {"milestones", "5,10"}, ...
    bool scale_with_batch = false;  // the lr and time constant given are per example (the entry's BatchScaling)
    bool skip_unreadable = false;   // image folders: leave out images that fail to decode (counted in the log)
    bool augment = false;
    int crop_padding = 2;           // --augment: random crops of the image padded by this many pixels
    double val_split = 0.1;         // fraction of the training set held out for validation (chooses best.ckpt)
    bool drop_last = false;         // leave out every incomplete last batch (a batch of one always is)
    uint64_t seed = 1;
    int threads = 2;
    bool stats = false;             // log per-example statistics even if the optimizer needs none
    std::string out;                // run directory
    long limit = 0;                 // use only this many training examples (0: all)
    bool snapshots = false;         // save a checkpoint at the end of every cycle (a schedule whose entry has cycles)
    long max_steps = 0;             // stop as if interrupted after this many steps of this process (0: never)
    std::vector<std::string> args;  // the run's options, stored in checkpoints for --resume
};

struct TrainResult {
    double test_accuracy = 0, test_loss = 0, train_examples_per_s = 0, seconds = 0;
    int epochs = 0;
    std::string checkpoint;
    bool interrupted = false;
};

// Ctrl-C: the loop finishes the current step, saves a resumable checkpoint and
// returns; while an image folder loads, loading stops (LoadInterrupted). Clears an
// earlier interruption (a program may train several times in one process); the
// destructor puts back the handlers there were before.
class InterruptHandler {
public:
    InterruptHandler();
    ~InterruptHandler();
    InterruptHandler(const InterruptHandler&) = delete;
    InterruptHandler& operator=(const InterruptHandler&) = delete;

private:
    void (*previous_int_)(int);
    void (*previous_term_)(int);
};

// Thrown when the loss diverges (non-finite, or orders of magnitude above an
// untrained model's): names the step, the learning rate and what to try.
struct Diverged : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Trainer {
public:
    Trainer(const TrainOptions& options, Distributed& dist);
    ~Trainer();
    // Restores model, optimizer and loop position from a checkpoint of this run;
    // refuses one whose classes or data statistics differ from the data now.
    void resume(const Checkpoint& ck, const std::string& path);
    // Fine-tuning: starts from the checkpoint's weights (and its normalisation), with
    // this run's optimizer, schedule and data; refuses another model, input shape or classes.
    void init_from(const Checkpoint& ck, const std::string& path);
    TrainResult run();

    Module& model() { return *model_; }
    const Dataset& test_set() const { return test_; }

private:
    struct Progress;  // loop position and running sums (saved in checkpoints)
    struct Eval {
        double loss = 0, accuracy = 0;
    };

    void load_data();
    void check_test_set() const;
    void check_finite_parameters(const std::string& when) const;
    [[noreturn]] void diverged(double loss, const std::string& detail) const;
    std::string warm_up_hint() const;
    OptionValues optimizer_values(int batch_size) const;
    void build_optimizer(int batch_size);
    int batch_size_for(int epoch) const;
    float lr_at(long step, double epoch) const;
    bool train_epoch(int epoch);
    void train_step(const Batch& batch, int epoch, int index, int batches);
    void allreduce_gradients(int local, int global);
    Eval evaluate(const Dataset& d, const std::vector<int>& indices);
    void end_epoch(int epoch, double seconds);
    void save(const std::string& path);
    std::map<std::string, std::string> extras() const;
    void log(const std::string& line) const;

    TrainOptions o_;
    Distributed& dist_;
    Dataset train_, test_;
    std::vector<int> train_idx_, val_idx_, test_idx_;
    Normalization norm_;           // what the model's inputs are normalised with (--init-from: the checkpoint's)
    Normalization data_stats_;     // the training split's own statistics (a resumed run checks its data by them)
    ModelSpec spec_;
    std::unique_ptr<Module> model_;
    ParameterList params_;         // the model's, listed once (a step must not allocate)
    std::unique_ptr<Optimizer> opt_;
    OptionValues opt_values_;      // what opt_ was made with (a new batch size may change them)
    std::unique_ptr<Schedule> schedule_;
    std::unique_ptr<DataLoader> loader_;
    int loader_batch_ = 0;
    Tape tape_, eval_tape_;
    std::vector<int> labels_;      // this rank's labels of the current batch
    std::vector<float> reduce_buf_;  // fused gradients (and statistics) for allreduce
    std::string step_error_;         // why this rank's last forward/backward failed (non-finite values)
    long start_step_ = 0;            // p_->step when run() began (--max-steps counts from here)
    std::unique_ptr<Progress> p_;
};

}  // namespace dl
