// build/study: learning-rate grids, reading runs back, choosing the best lr on
// the validation split, the statistics of the table, bad input rejected before
// any run, an end-to-end study with its report, and a study killed at random
// moments and restarted that loses at most the current epoch and gives the same
// numbers as one that was never interrupted.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "apps/common/report.h"
#include "apps/study/output.h"
#include "apps/study/plan.h"
#include "apps/study/results.h"
#include "tests/run_program.h"

using dl::testing::ProgramResult;
using dl::testing::read_text;
using dl::testing::run_program;
using dl::testing::TempDir;
using namespace dl::study;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

const char* kHeader =
    "epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,lr,batch_size,examples_per_s,noise_scale,seconds\n";

std::string row(int epoch, double val, double test, double seconds) {
    std::ostringstream s;
    s << epoch << ",0.5,0.8,0.5," << val << ",0.5," << test << ",0.1,64,1000,nan," << seconds << "\n";
    return s.str();
}

RunResult fake_run(const std::string& dir, double lr, const std::vector<std::pair<double, double>>& val_test) {
    dl::make_dirs(dir);
    std::string csv = kHeader;
    for (size_t e = 0; e < val_test.size(); ++e) csv += row(static_cast<int>(e + 1), val_test[e].first, val_test[e].second, e + 1.0);
    write(dir + "/metrics.csv", csv);
    write(dir + "/done.json", "{}\n");
    return read_run({"sgd", lr, 1, Phase::Tune, dir});
}

std::string lines_of(const std::string& text, size_t& count) {
    count = 0;
    for (char c : text) count += c == '\n';
    return text;
}

// The metrics of every run of a study, without the timing columns (examples/s,
// noise scale, seconds), which differ from run to run.
std::map<std::string, std::string> sgd_numbers(const std::string& out) {
    std::map<std::string, std::string> m;
    for (const char* run : {"sgd/lr0.03-seed1", "sgd/lr0.1-seed1", "sgd/lr0.03-seed2", "sgd/lr0.1-seed2"}) {
        if (!dl::file_exists(out + "/runs/" + run)) continue;
        std::istringstream in(read_text(out + "/runs/" + run + "/metrics.csv"));
        std::string text;
        for (std::string line; std::getline(in, line);) {
            for (int cut = 0; cut < 3; ++cut) line = line.substr(0, line.rfind(','));
            text += line + "\n";
        }
        m[run] = text;
    }
    return m;
}

const std::string kStudy =
    "build/study --model mlp --optimizers sgd,adam --grid sgd=0.03,0.1 --grid adam=1e-3,3e-3 --seeds 1,2 "
    "--epochs 1 --limit 2000 --target 0.5 --jobs 2 --threads 1 ";
// Two runs of two epochs, for the kill test.
const std::string kSgdStudy =
    "build/study --model mlp --optimizers sgd --grid 0.03,0.1 --seeds 1 --epochs 2 --limit 2000 --target 0.5 "
    "--jobs 2 --threads 1 ";

// Starts `command` (via /bin/sh, in a new process group) and returns its pid.
pid_t spawn(const std::string& command, const std::string& log) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1 </dev/null").c_str(), nullptr);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Epochs each run folder holds in metrics.csv, and whether it is done.
std::map<std::string, std::pair<long, bool>> snapshot(const std::string& out) {
    std::map<std::string, std::pair<long, bool>> s;
    for (const char* run : {"sgd/lr0.03-seed1", "sgd/lr0.1-seed1"}) {
        const std::string dir = out + "/runs/" + run;
        s[run] = {static_cast<long>(read_metrics(dir).size()), dl::file_exists(dir + "/done.json")};
    }
    return s;
}

long count_of(const std::string& text, const std::string& what) {
    long n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("study: a grid A:B:N is N log-spaced points from A to B; a list is taken as given") {
    const std::vector<double> g = parse_grid("1e-4:1:9");
    REQUIRE(g.size() == 9);
    CHECK(g.front() == doctest::Approx(1e-4));
    CHECK(g.back() == doctest::Approx(1.0));
    CHECK(g[4] == doctest::Approx(0.01));
    for (size_t i = 1; i < g.size(); ++i) CHECK(g[i] / g[i - 1] == doctest::Approx(std::sqrt(10.0)).epsilon(0.01));
    CHECK(parse_grid("0.1,0.01,0.03") == std::vector<double>{0.01, 0.03, 0.1});
    CHECK(parse_grid("3e-3:3e-3:1") == std::vector<double>{0.003});
    CHECK(lr_text(parse_grid("1e-4:1:9")[1]) == "0.000316");
    CHECK_THROWS_WITH_AS(parse_grid(""), doctest::Contains("--grid is empty"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_grid("1e-4:1:0"), doctest::Contains("N must be a whole number >= 1"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_grid("1e-4:1"), doctest::Contains("expected A:B:N"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_grid("0:1:3"), doctest::Contains("positive"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_grid("0.1,x"), doctest::Contains("'x' is not a number"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_grid("0.1,0.1"), doctest::Contains("equal"), std::invalid_argument);
}

TEST_CASE("study: each optimizer's grid is over its own step size") {
    StudyOptions o;
    o.optimizers = {"sgd", "adaptive"};
    o.grids["sgd"] = "0.1,0.2";
    CHECK(grid_for(o, "sgd") == std::vector<double>{0.1, 0.2});
    CHECK(grid_for(o, "adaptive") == parse_grid(default_grid("adaptive")));
    CHECK(step_size_name("adaptive") == "lambda_eta");
    CHECK(step_size_name("momentum-ema").rfind("eta'", 0) == 0);
    o.grid = "1e-3:1e-1:3";
    CHECK(grid_for(o, "adaptive") == std::vector<double>{0.001, 0.01, 0.1});
    const std::vector<RunSpec> runs = tuning_runs(o);
    REQUIRE(runs.size() == 5);
    CHECK(runs[0].dir == "runs/study/runs/sgd/lr0.1-seed1");
    o.seeds = {4, 5, 6};
    const std::vector<RunSpec> seeds = seed_runs(o, "sgd", 0.1);
    REQUIRE(seeds.size() == 2);  // the tuning run is the first seed's
    CHECK(seeds[1].dir == "runs/study/runs/sgd/lr0.1-seed6");
    o.train_args = {"--augment", "sgd:--crop-padding=1"};
    const std::vector<std::string> a = train_command(o, seeds[0]);
    CHECK(std::count(a.begin(), a.end(), "--crop-padding=1") == 1);
    CHECK(std::count(a.begin(), a.end(), "--augment") == 1);
    CHECK(std::count(a.begin(), a.end(), "--val-split") == 1);
    const std::vector<std::string> b = train_command(o, {"adaptive", 0.01, 4, Phase::Tune, "x"});
    CHECK(std::count(b.begin(), b.end(), "--crop-padding=1") == 0);
}

TEST_CASE("study: the best lr is chosen on the validation split, never on the test set") {
    TempDir tmp;
    // lr 0.1 has the better test accuracy, lr 0.01 the better validation accuracy.
    std::vector<RunResult> tuning{fake_run(tmp / "a", 0.01, {{0.70, 0.60}, {0.85, 0.80}}),
                                  fake_run(tmp / "b", 0.1, {{0.80, 0.90}, {0.84, 0.95}})};
    REQUIRE(best_run(tuning) != nullptr);
    CHECK(best_run(tuning)->spec.lr == 0.01);
    // A failed (diverged) run is never chosen, however its last rows looked.
    dl::make_dirs(tmp / "c");
    write(tmp / "c/metrics.csv", std::string(kHeader) + row(1, 0.99, 0.99, 1));
    write(tmp / "c/failed.txt", "train: non-finite value (inf) first produced by op 'linear'\n");
    tuning.push_back(read_run({"sgd", 1.0, 1, Phase::Tune, tmp / "c"}));
    CHECK(tuning.back().status == RunStatus::Failed);
    CHECK(tuning.back().error.find("non-finite") != std::string::npos);
    CHECK(best_run(tuning)->spec.lr == 0.01);
    const Summary s = summarize("sgd", tuning, {tuning[0]}, 0.8);
    CHECK(s.best_lr == 0.01);
    CHECK(s.failed_grid_points == 1);
    CHECK(s.best_at_edge);  // 0.01 is the grid's first point
}

TEST_CASE("study: mean, sd and the median time to target, a seed that never reached it counting as slowest") {
    const MeanSd m = mean_sd({0.8, 0.9, 1.0});
    CHECK(m.mean == doctest::Approx(0.9));
    CHECK(m.sd == doctest::Approx(0.1));
    CHECK(mean_sd({0.5}).sd == 0.0);
    CHECK(median_reached({3, 1, 2}) == 2);
    CHECK(median_reached({3, NAN, 1}) == 3);         // 1, 3, never
    CHECK(std::isnan(median_reached({NAN, NAN, 1})));  // fewer than half reached it
    CHECK(median_reached({4, 2}) == 3);
    TempDir tmp;
    const RunResult r = fake_run(tmp / "r", 0.1, {{0.5, 0.6}, {0.7, 0.86}, {0.8, 0.84}});
    CHECK(time_to_target(r.rows, 0.85).epoch == 2);
    CHECK(time_to_target(r.rows, 0.85).seconds == 2.0);
    CHECK(time_to_target(r.rows, 0.9).epoch == 0);
}

TEST_CASE("study: metrics of a resumed run: a repeated epoch keeps its last row, seconds add up over processes") {
    TempDir tmp;
    // Epochs 1-2 in the first process, killed after writing epoch 2's row but before
    // its checkpoint; the second process redid epoch 2 and did 3, its clock from 0.
    write(tmp / "metrics.csv", std::string(kHeader) + row(1, 0.5, 0.5, 10) + row(2, 0.6, 0.6, 20) +
                                   row(2, 0.61, 0.62, 11) + row(3, 0.7, 0.7, 21));
    write(tmp / "segments.txt", "2\n");
    const std::vector<EpochRow> rows = read_metrics(tmp.str());
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].test_acc == 0.62);
    CHECK(rows[1].seconds == 21.0);  // 10 (epoch 1) + 11
    CHECK(rows[2].seconds == 31.0);
    // A row cut short by a kill is ignored.
    write(tmp / "metrics.csv", std::string(kHeader) + row(1, 0.5, 0.5, 10) + "2,0.4,0.8");
    CHECK(read_metrics(tmp.str()).size() == 1);
    CHECK(read_metrics(tmp / "nothing").empty());
}

TEST_CASE("study: base64 of the embedded plots") {
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64(std::string("\xff\x00\x80", 3)) == "/wCA");
}

TEST_CASE("study: bad input gets one clear line before any run starts") {
    TempDir tmp;
    const std::string base = "build/study --model mlp --limit 2000 --out " + tmp.str() + "/s ";
    const std::pair<std::string, std::string> cases[] = {
        {"--optimizers sgd,adamm", "unknown optimizer 'adamm'"},
        {"--optimizers sgd --grid ''", "--grid '' is empty"},
        {"--optimizers sgd --grid sgd=", "is empty"},
        {"--optimizers sgd --grid 1:0.1:0", "N must be a whole number >= 1"},
        {"--optimizers sgd --target 1.5", "--target is a test accuracy in (0, 1], got 1.5"},
        {"--optimizers sgd --epochs 0", "--epochs must be at least 1, got 0"},
        {"--optimizers sgd --seeds 0", "--seeds is empty"},
        {"--optimizers sgd --train-arg=--lr=3", "--lr is set by the study itself"},
        {"--optimizers sgd --train-arg=sgdd:--augment", "unknown optimizer 'sgdd'"},
        {"--optimizers sgd --val-split 0", "the lr is chosen on the validation split"},
        {"--optimizers sgd --train ./no-such-trainer", "cannot run the trainer ./no-such-trainer"},
    };
    for (const auto& [args, message] : cases) {
        ProgramResult r = run_program(base + args, tmp.str());
        INFO(args << "\n" << r.err);
        CHECK(r.status != 0);
        size_t lines = 0;
        lines_of(r.err, lines);
        CHECK(lines == 1);
        CHECK(r.err.rfind("study: ", 0) == 0);
        CHECK(r.err.find(message) != std::string::npos);
        CHECK_FALSE(dl::file_exists(tmp.str() + "/s/runs/sgd"));  // no run started
    }
}

TEST_CASE("study: a 2 x 2 study writes its table, plots and report; run again, it reruns nothing") {
    TempDir tmp;
    const std::string ref = tmp / "ref";
    ProgramResult r = run_program(kStudy + "--out " + ref, tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    // The table: each optimizer's best lr, its final accuracy over 2 seeds.
    const std::string table = read_text(ref + "/table.md");
    CHECK(table.find("| sgd | eta |") != std::string::npos);
    CHECK(table.find("| adam | eta |") != std::string::npos);
    CHECK(count_of(table, " +- ") == 3);  // the header, and mean +- sd over 2 seeds for each
    CHECK(r.out.find(table) != std::string::npos);
    const std::string csv = read_text(ref + "/table.csv");
    CHECK(count_of(csv, "\n") == 3);
    const std::string grid = read_text(ref + "/grid.csv");
    CHECK(count_of(grid, ",done,") == 4);
    CHECK(dl::file_exists(ref + "/curves.csv"));
    // Finished runs keep their metrics, not their checkpoints.
    CHECK(dl::file_exists(ref + "/runs/sgd/lr0.1-seed1/done.json"));
    CHECK_FALSE(dl::file_exists(ref + "/runs/sgd/lr0.1-seed1/model.ckpt"));
    // The report is one self-contained page with the plots inside.
    const std::string html = read_text(ref + "/report.html");
    CHECK(html.find("</html>") != std::string::npos);
    if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
        CHECK(count_of(html, "src=\"data:image/png;base64,iVBORw0KGgo") == 2);  // PNG signature
        CHECK(dl::file_exists(ref + "/accuracy.png"));
        CHECK(dl::file_exists(ref + "/tuning.png"));
    }
    // Run again: nothing is rerun.
    ProgramResult again = run_program(kStudy + "--out " + ref, tmp.str());
    CHECK(again.status == 0);
    CHECK(again.err.find("6 of 6 runs already done") != std::string::npos);
    CHECK(count_of(read_text(ref + "/study.log"), " start ") == 6);
    // Other settings in the same folder are refused.
    ProgramResult other = run_program(kStudy + "--batch-size 32 --out " + ref, tmp.str());
    CHECK(other.status != 0);
    CHECK(other.err.find("other settings") != std::string::npos);
}

// Checks what a restarted study did (the lines it added to study.log) against
// the run folders as they were just before the kill. The epoch that was
// running may be lost, and so may one whose metrics row was written but whose
// checkpoint was not yet (build/train writes the row first): at most one epoch.
static void check_restart(const std::string& added_log, const std::map<std::string, std::pair<long, bool>>& before) {
    for (const auto& [run, state] : before) {
        const std::string name = "sgd lr " + run.substr(run.find("lr") + 2, run.find("-seed") - run.find("lr") - 2) +
                                 " seed " + run.substr(run.find("seed") + 4);
        INFO(run << ": " << state.first << " epochs in metrics.csv before the kill, done " << state.second);
        if (state.second) {  // finished before the kill: not run again
            CHECK(count_of(added_log, "start " + name) == 0);
            CHECK(count_of(added_log, "resume " + name) == 0);
        }
        if (state.first > 1) CHECK(count_of(added_log, "start " + name) == 0);  // not from scratch
        const std::string resume = "resume " + name + " at epoch ";
        for (size_t at = added_log.find(resume); at != std::string::npos; at = added_log.find(resume, at + 1))
            CHECK(std::stoi(added_log.substr(at + resume.size())) >= state.first - 1);
    }
}

TEST_CASE("study: killed at random moments and restarted, a study loses at most the current epoch") {
    // Twice: first the study alone (its children then save a checkpoint
    // mid-epoch and stop), then the restarted study with its children (kill -9
    // of the process group: they save nothing); then it runs to the end.
    TempDir tmp;
    const std::string ref = tmp / "ref", out = tmp / "killed", log = tmp / "killed.log";
    ProgramResult r = run_program(kSgdStudy + "--out " + ref, tmp.str());
    REQUIRE(r.status == 0);
    std::mt19937 rng(std::random_device{}());
    std::map<std::string, std::pair<long, bool>> before;
    size_t log_size = 0;
    for (int round = 0; round < 3; ++round) {
        // The lines the last study added since the kill before it, against the folders at that kill.
        const std::string study_log = read_text(out + "/study.log");
        if (round > 0) check_restart(study_log.substr(log_size), before);
        if (round == 2) break;
        const int ms = std::uniform_int_distribution<int>(200, 2500)(rng);
        INFO("round " << round << ": killed after " << ms << " ms");
        const pid_t pid = spawn(kSgdStudy + "--out " + out, log);
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        before = snapshot(out);  // what the folders held just before the kill
        ::kill(round == 0 ? pid : -pid, SIGKILL);
        wait_status(pid);
        log_size = read_text(out + "/study.log").size();  // what the killed study wrote is not checked
    }
    // The restart waits for the children of a killed study to save (the lock).
    ProgramResult rest = run_program(kSgdStudy + "--out " + out, tmp.str());
    INFO(rest.err);
    REQUIRE(rest.status == 0);
    check_restart(read_text(out + "/study.log").substr(log_size), before);
    // Whatever was killed, the numbers are those of the uninterrupted study.
    CHECK(sgd_numbers(out).size() == 2);
    CHECK(sgd_numbers(out) == sgd_numbers(ref));
}

TEST_CASE("study: every algorithm trains mlp with its defaults to within a few points of the best one") {
    // As a new user would: build/train --model mlp --optimizer NAME --epochs 1 --limit 12000 and
    // nothing else. This guards the defaults build/study chose: before them, adaptive stopped
    // on an inf, rmsprop-var ended at 5%, sgd-like ones at 63-73% where adam passed 75%.
    // Two runs at a time, one thread each.
    TempDir tmp;
    // The lecture's eleven (optimizer_names() may hold the tests' own, registered in-process).
    const std::vector<std::string> lecture{"sgd", "momentum", "momentum-ema", "rmsprop", "rmsprop-var",
                                           "rmsprop-per-example", "adam", "adam-lecture", "langevin",
                                           "langevin-precond", "adaptive"};
    std::string names;
    for (const std::string& n : lecture) names += n + "\n";
    write(tmp / "names.txt", names);
    // (in braces: run_program's own </dev/null must not replace the list of names)
    // --val-split 0: the first 12000 training images, as when these margins were measured (a validation
    // split held out by default changes which 12000 are trained on).
    const std::string cmd = "{ xargs -P 2 -I NAME sh -c 'build/train --model mlp --optimizer NAME --epochs 1 --limit "
                            "12000 --val-split 0 --threads 1 --out " + tmp.str() + "/NAME >" + tmp.str() + "/NAME.json 2>" +
                            tmp.str() + "/NAME.log' <" + tmp.str() + "/names.txt; }";
    ProgramResult r = run_program(cmd, tmp.str());
    CHECK(r.status == 0);
    std::map<std::string, double> accuracy;
    double best = 0;
    for (const std::string& n : lecture) {
        const std::string json = read_text(tmp / (n + ".json"));
        const size_t at = json.find("\"test_accuracy\": ");
        INFO(n << ": " << read_text(tmp / (n + ".log")));
        REQUIRE(at != std::string::npos);
        accuracy[n] = std::stod(json.substr(at + 17));
        best = std::max(best, accuracy[n]);
    }
    for (const auto& [n, a] : accuracy) {
        INFO(n << " " << a << ", best " << best);
        CHECK(a >= 0.70);
        CHECK(a >= best - 0.08);  // sgd and langevin, without momentum, are 5-8 points behind after one epoch
    }
}
