// What the runs of a study measured, read back from their folders, and the
// numbers of the study's table: the best learning rate per optimizer (by the
// validation split), final test accuracy over seeds, time to the target.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/study/plan.h"

namespace dl::study {

// One row of a run's metrics.csv (build/train writes one per epoch).
struct EpochRow {
    int epoch = 0;
    double val_acc = 0, test_acc = 0, train_loss = 0;
    double seconds = 0;  // since the run started, summed over resumed segments
};

// Reads RUN/metrics.csv (columns by header name). A row repeated by a resumed run
// (killed after writing the row, before its checkpoint) keeps the last copy. The
// seconds column restarts in each process: RUN/segments.txt (written by the
// runner when it resumes a run) lists the row numbers where a process began, and
// the seconds are made cumulative from there (the part of an epoch lost to a
// kill is not counted). Returns no rows if the file does not exist; throws
// std::runtime_error if it is damaged.
std::vector<EpochRow> read_metrics(const std::string& run_dir);
// The data-row counts of RUN/metrics.csv at each resume (RUN/segments.txt).
std::vector<long> read_segments(const std::string& run_dir);

enum class RunStatus { Pending, Partial, Done, Failed };

struct RunResult {
    RunSpec spec;
    RunStatus status = RunStatus::Pending;
    std::string error;            // Failed: the trainer's error line
    std::vector<EpochRow> rows;
    double final_val() const;     // NaN unless Done
    double final_test() const;
};

// Status markers in a run folder, written by the runner: done.json (the
// trainer's JSON line) when it finished, failed.txt (its error) when it stopped
// with an error.
RunResult read_run(const RunSpec& spec);

// The tuning run with the highest final validation accuracy (ties: the smaller
// lr); nullptr if none finished with a finite accuracy. A grid of one point:
// that run if it finished.
const RunResult* best_run(const std::vector<RunResult>& tuning);

// Mean and sample standard deviation (n - 1; 0 for one value).
struct MeanSd {
    double mean = 0, sd = 0;
    int n = 0;
};
MeanSd mean_sd(const std::vector<double>& v);

// First epoch (1-based) and its seconds where test accuracy >= target; epoch 0 if never.
struct TimeToTarget {
    int epoch = 0;
    double seconds = 0;
};
TimeToTarget time_to_target(const std::vector<EpochRow>& rows, double target);

// Median of the seeds' times to the target, a seed that never reached it
// counting as infinitely slow: NaN when fewer than half of them reached it.
double median_reached(std::vector<double> times_or_nan);

// One optimizer's line of the table.
struct Summary {
    std::string optimizer;
    bool tuned = false;           // false: no run of its grid finished
    double best_lr = 0;
    bool best_at_edge = false;    // best lr is the first or last grid point
    MeanSd final_test;            // over the seeds that finished
    double median_epochs = 0;     // NaN: fewer than half the seeds reached the target
    double median_seconds = 0;
    int reached = 0, seeds = 0;   // seeds that reached the target / finished seeds
    int failed_grid_points = 0;   // tuning runs that stopped with an error (diverged)
};

// `tuning` are the optimizer's grid runs, `seeds` its best setting's runs (all
// seeds, the tuning run first).
Summary summarize(const std::string& optimizer, const std::vector<RunResult>& tuning,
                  const std::vector<RunResult>& seeds, double target);

}  // namespace dl::study
