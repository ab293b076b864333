// Runs the runs of a study, restartably, as child processes of build/train.
//
// Why child processes and not the trainer in-process: a run that diverges,
// aborts or is killed takes only itself down; two runs side by side (one per
// core) need no shared thread pool (OpenMP's thread count is per process); and
// build/train already has exact resumption (--resume continues bit for bit), a
// Ctrl-C that saves a mid-epoch checkpoint, and per-epoch metrics. Starting a
// process and loading Fashion-MNIST costs well under a second per run, small
// against a run of several epochs.
//
// Each run has its own folder (plan.h: OUT/runs/<optimizer>/lr<lr>-seed<seed>):
//   metrics.csv, model.ckpt, best.ckpt, curves.png   written by build/train
//   train.log, train.out                             its stderr and stdout
//   done.json      the trainer's JSON line: the run is finished (never rerun)
//   failed.txt     the trainer's error line: it stopped with an error (never rerun)
//   segments.txt   metrics.csv's row count at each resume (for the seconds column)
// A restarted study skips done and failed runs, resumes a run that has a
// model.ckpt (written at every epoch's end and, when the study is stopped or
// killed, mid-epoch by the child on its way out), and starts the others afresh.
// The children die with the study: each asks the kernel for SIGTERM when its
// parent dies (PR_SET_PDEATHSIG), and build/train answers SIGTERM by saving a
// resumable checkpoint. So killing the study loses no finished step; killing
// the study and its children together (kill -9 of the process group, a power
// cut) loses at most the current epoch of each running run.
//
// OUT/study.lock is held (flock) by the study and inherited by its children:
// a second study on the same folder, or a restarted one while the children of
// a killed one are still saving, waits for it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "apps/study/plan.h"
#include "apps/study/results.h"

namespace dl::study {

class Runner {
public:
    explicit Runner(const StudyOptions& o);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // Runs every pending run (tuning, then each optimizer's seeds as soon as its
    // tuning is complete). Returns false when interrupted (SIGINT/SIGTERM); the
    // runs are then resumable.
    bool run_all();

    // The results as the run folders hold them now, per optimizer.
    std::vector<RunResult> tuning_results(const std::string& optimizer) const;
    std::vector<RunResult> seed_results(const std::string& optimizer) const;  // empty until tuned

    // Wall seconds this invocation spent running.
    double seconds() const { return seconds_; }
    // Keep model.ckpt and best.ckpt of finished runs (by default they are
    // deleted: the study needs only metrics.csv, and 77 runs of fmnist_mlp
    // would keep about 2 GB of checkpoints).
    void keep_checkpoints() { keep_checkpoints_ = true; }

private:
    struct Child;
    void lock_folder();
    void check_settings();
    void enqueue_ready(const std::string& optimizer);
    void start(const RunSpec& r);
    void finish(Child& c, int status);
    void stop_children();
    void draw_progress(bool force);
    double seconds_left() const;
    void log(const std::string& line);

    StudyOptions o_;
    int lock_fd_ = -1;
    std::vector<RunSpec> queue_;
    std::vector<Child*> running_;
    std::map<std::string, bool> seeds_enqueued_;
    std::map<std::string, double> seconds_per_epoch_;  // measured, per optimizer
    std::map<std::string, int> epochs_measured_;
    std::map<std::string, int> signal_deaths_;
    int done_ = 0, total_ = 0;
    double seconds_ = 0, start_ = 0, last_draw_ = 0;
    bool tty_ = false;
    bool keep_checkpoints_ = false;
    int drawn_done_ = -1;  // done_ when a line was last printed (stderr not a terminal)
};

// Installed by build/study: SIGINT and SIGTERM stop the runner (which stops its
// children, each saving a checkpoint) instead of killing the process.
void install_stop_handler();

}  // namespace dl::study
