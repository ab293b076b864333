// What a finished study writes into its folder:
//   table.md, table.csv   one line per optimizer: best lr, final test accuracy
//                         (mean +- sd over seeds), epochs and seconds to the target
//   grid.csv              every tuning run: lr, status, final val and test accuracy
//   curves.csv            test accuracy per epoch of each best setting: mean, sd,
//                         min and max over seeds
//   accuracy.png          those curves, a band (min to max over seeds) around the mean
//   tuning.png            final validation accuracy against lr, per optimizer
//   report.html           all of it in one self-contained page (plots inlined as
//                         base64 PNG), to open in a browser
// Every file is written to a temporary name and renamed, so an interrupted
// study never leaves a report that looks complete.
#pragma once
#include <string>
#include <vector>

#include "apps/study/plan.h"
#include "apps/study/results.h"

namespace dl::study {

struct OptimizerResults {
    std::string optimizer;
    std::vector<RunResult> tuning;  // grid order
    std::vector<RunResult> seeds;   // the best setting's runs, tuning seed first (empty if untuned)
    Summary summary;
};

// The markdown table (with a header line naming the target and the seeds).
std::string table_markdown(const StudyOptions& o, const std::vector<OptimizerResults>& results);
std::string table_csv(const std::vector<OptimizerResults>& results);
std::string grid_csv(const std::vector<OptimizerResults>& results);

// Standard base64 (RFC 4648, with padding).
std::string base64(const std::string& bytes);

// Writes every file above into o.out. Plots need gnuplot: without it the tables
// and the HTML are still written, and `notes` says what was skipped. `seconds`
// is the wall time to quote in the report.
void write_outputs(const StudyOptions& o, const std::vector<OptimizerResults>& results, double seconds,
                   const std::string& command, std::vector<std::string>& notes);

}  // namespace dl::study
