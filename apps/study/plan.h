// What a study is: its options, the learning-rate grids, and the list of runs.
//
// A study follows the protocol of optimizer benchmarks (DeepOBS, AlgoPerf):
//   1. tuning: every optimizer at every point of its learning-rate grid, with the
//      first seed;
//   2. choice: each optimizer's best learning rate, by its final accuracy on the
//      validation split (never the test set);
//   3. seeds: the best setting again with every other seed (the tuning run is
//      the first seed's run, so it is not repeated).
// This file only plans; apps/study/runner.* runs, apps/study/results.* reads
// what the runs wrote, apps/study/output.* writes tables, plots and the report.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dl::study {

struct StudyOptions {
    std::string model = "mlp";        // a model name (or spec) build/train accepts
    std::string data_dir;             // empty: build/train's default (Fashion-MNIST)
    std::vector<std::string> optimizers;
    std::string grid;                 // default grid for every optimizer ("" = each one's own)
    std::map<std::string, std::string> grids;  // per optimizer: OPT=GRID
    std::vector<uint64_t> seeds{1, 2, 3};
    int epochs = 5;
    double target = 0.85;             // test accuracy whose time to reach is measured
    int batch_size = 128;
    double val_split = 0.1;           // fraction of the training set held out to choose lr (0: only
                                      // when every grid has one point, e.g. to rerun published settings)
    long limit = 0;                   // training examples per run (0: all)
    int jobs = 2;                     // runs at once
    int threads = 1;                  // threads per run
    std::vector<std::string> train_args;  // "[OPT:]--arg[=value]": extra build/train arguments
    std::string out = "runs/study";
    std::string train = "build/train";  // the trainer program
};

// "A:B:N": N points from A to B, equally spaced in log (A, B > 0, N >= 1; N = 1
// means A alone); or a comma list "0.1,0.03,0.01". Values are rounded to 3
// significant digits, as they are written in folder names and tables.
// Throws std::invalid_argument naming the grid and what is wrong.
std::vector<double> parse_grid(const std::string& grid);

// "%.3g" of a learning rate: the spelling used on build/train's command line,
// in folder names and tables, so all three agree.
std::string lr_text(double lr);

// What --lr means for an optimizer (from optim/: eta, eta', lambda_eta, ...).
std::string step_size_name(const std::string& optimizer);

// The grid an optimizer gets when none is given: 5 points over 2 decades around
// the region where it trains (measured on mlp and cnn; see docs/study/README.md).
std::string default_grid(const std::string& optimizer);

// The grid of one optimizer under these options.
std::vector<double> grid_for(const StudyOptions& o, const std::string& optimizer);

// Checks everything before any run starts; throws std::invalid_argument with
// one line naming the bad option and value. `known` are the optimizer names.
void validate(const StudyOptions& o, const std::vector<std::string>& known);

enum class Phase { Tune, Seed };

struct RunSpec {
    std::string optimizer;
    double lr = 0;
    uint64_t seed = 1;
    Phase phase = Phase::Tune;
    std::string dir;  // OUT/runs/<optimizer>/lr<lr>-seed<seed>
};

std::string run_dir(const StudyOptions& o, const std::string& optimizer, double lr, uint64_t seed);

// The tuning runs, optimizer by optimizer, grid point by grid point.
std::vector<RunSpec> tuning_runs(const StudyOptions& o);

// The seed runs of one optimizer once its best lr is known (seeds after the first).
std::vector<RunSpec> seed_runs(const StudyOptions& o, const std::string& optimizer, double best_lr);

// build/train's arguments for a fresh run (without the program name).
std::vector<std::string> train_command(const StudyOptions& o, const RunSpec& r);

// The settings that change a run's numbers, one "key value" per line: stored in
// OUT/study.txt so that a restarted study can refuse to mix settings.
std::string settings_text(const StudyOptions& o);

}  // namespace dl::study
