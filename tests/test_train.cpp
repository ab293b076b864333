// End-to-end checks of build/train and build/predict: a run whose loss falls,
// exact resumption (after a finished epoch and mid-epoch), what --resume may
// change, fine-tuning, divergence, run folders and their lock, the validation
// split, metrics after a kill or a full disk, Ctrl-C, bad input, training on an
// image folder, and classifying images. tests/test_bad_input.cpp has the
// crafted files.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>

#include <csignal>
#include <vector>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "apps/common/report.h"
#include "layers/checkpoint.h"
#include "tests/checkpoint_edit.h"
#include "tests/run_program.h"
#include "tests/small_data.h"

using dl::testing::ProgramResult;
using dl::testing::metrics_column;
using dl::testing::metrics_without_timing;
using dl::testing::read_text;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

const std::string kSmall = "build/train --model mlp --limit 2000 --threads 2 --seed 5 ";
}  // namespace

TEST_CASE("train: an mlp run lowers the loss and writes metrics, checkpoints, curves and a JSON line") {
    TempDir tmp;
    ProgramResult r = run_program(kSmall + "--epochs 3 --optimizer adam --out " + tmp.str() + "/run", tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    const std::string json = r.last_line();
    for (const char* key : {"\"model\": \"mlp\"", "\"optimizer\": \"adam\"", "\"epochs\": 3", "\"batch_size\": 64",
                            "\"seed\": 5", "\"test_accuracy\": ", "\"test_loss\": ", "\"train_examples_per_s\": ",
                            "\"seconds\": ", "\"checkpoint\": "})
        CHECK(json.find(key) != std::string::npos);
    const std::vector<double> loss = metrics_column(tmp.str() + "/run", 1);
    REQUIRE(loss.size() == 3);
    CHECK(loss[2] < 0.8 * loss[0]);
    CHECK(metrics_column(tmp.str() + "/run", 6).back() > 0.7);  // test accuracy after 3 epochs on 2000 examples
    for (const char* f : {"/run/model.ckpt", "/run/best.ckpt", "/run/curves.png"}) CHECK(dl::file_exists(tmp.str() + f));
}

TEST_CASE("train: the same seed gives the same numbers; --resume continues exactly") {
    TempDir tmp;
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b", c = tmp.str() + "/c";
    REQUIRE(run_program(kSmall + "--epochs 2 --optimizer adam --out " + a, tmp.str()).status == 0);
    // After a finished epoch.
    REQUIRE(run_program(kSmall + "--epochs 1 --optimizer adam --out " + b, tmp.str()).status == 0);
    REQUIRE(run_program("build/train --resume " + b + "/model.ckpt --epochs 2", tmp.str()).status == 0);
    // In the middle of an epoch (32 steps = one epoch of 2000 at batch 64 is 32 steps: stop at 45).
    ProgramResult stop = run_program(kSmall + "--epochs 2 --optimizer adam --max-steps 45 --out " + c, tmp.str());
    CHECK(stop.status == 130);
    CHECK(stop.err.find("--resume") != std::string::npos);
    REQUIRE(run_program("build/train --resume " + c + "/model.ckpt", tmp.str()).status == 0);
    const std::string straight = metrics_without_timing(a);
    CHECK(straight.size() > 100);
    CHECK(metrics_without_timing(b) == straight);
    CHECK(metrics_without_timing(c) == straight);
}

TEST_CASE("train: statistics-based optimizers and --stats log the gradient noise scale") {
    TempDir tmp;
    ProgramResult r = run_program(kSmall + "--epochs 1 --optimizer rmsprop-per-example --lr 0.001 --out " + tmp.str() + "/r",
                                  tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("per-example statistics") != std::string::npos);
    CHECK(metrics_column(tmp.str() + "/r", 10).at(0) > 0.0);  // noise_scale
    ProgramResult bn = run_program("build/train --model cnn-bn --limit 256 --epochs 1 --stats --out " + tmp.str() + "/bn",
                                   tmp.str());
    CHECK(bn.status != 0);
    CHECK(bn.err.find("mixes the examples") != std::string::npos);
}

TEST_CASE("train: Ctrl-C saves a resumable checkpoint and exits cleanly") {
    TempDir tmp;
    const std::string run = tmp.str() + "/run";
    // Interrupted once training runs (metrics.csv is written when it starts; Ctrl-C while loading saves nothing).
    ProgramResult r = run_program("(" + kSmall + "--epochs 1000 --out " + run + " & pid=$!; for i in $(seq 600); do [ -f " +
                                      run + "/metrics.csv ] && break; sleep 0.1; done; sleep 0.5; kill -INT $pid; wait $pid)",
                                  tmp.str());
    CHECK(r.status == 130);
    CHECK(r.err.find("interrupted: saved a resumable checkpoint") != std::string::npos);
    CHECK(dl::file_exists(run + "/model.ckpt"));
    CHECK_FALSE(dl::file_exists(run + "/model.ckpt.tmp"));
}

TEST_CASE("train: bad input gets one clear line and a non-zero exit") {
    TempDir tmp;
    ProgramResult missing = run_program("build/train --data /nonexistent/dir --out " + tmp.str() + "/x", tmp.str());
    CHECK(missing.status != 0);
    CHECK(missing.err.find("train: ") == 0);
    CHECK(missing.err.find("/nonexistent/dir") != std::string::npos);
    ProgramResult unknown = run_program("build/train --optimizer nope", tmp.str());
    CHECK(unknown.status != 0);
    CHECK(unknown.err.find("--optimizer: nope not in") != std::string::npos);
    ProgramResult range = run_program("build/train --batch-size 0", tmp.str());
    CHECK(range.status != 0);
    CHECK(range.err.find("--batch-size") != std::string::npos);
    ProgramResult empty = run_program("build/train --images " + tmp.str() + " --out " + tmp.str() + "/y", tmp.str());
    CHECK(empty.status != 0);
    CHECK(empty.err.find(tmp.str()) != std::string::npos);
    ProgramResult badopt = run_program(kSmall + "--optimizer adam --nesterov true --out " + tmp.str() + "/z", tmp.str());
    CHECK(badopt.status != 0);
    CHECK(badopt.err.find("nesterov") != std::string::npos);
}

TEST_CASE("train and predict on an image folder of the user's own pictures") {
    TempDir tmp;
    const std::string root = tmp.str() + "/pictures";
    // Two classes: bright squares on the left, bright squares on the right, 40x30 RGB.
    for (const char* cls : {"left", "right"}) {
        mkdir(root.c_str(), 0755);
        mkdir((root + "/" + cls).c_str(), 0755);
        for (int i = 0; i < 30; ++i) {
            std::vector<unsigned char> px(40 * 30 * 3, 20);
            const int x0 = std::string(cls) == "left" ? 2 + i % 5 : 24 + i % 5;
            for (int y = 8; y < 22; ++y)
                for (int x = x0; x < x0 + 12; ++x)
                    for (int c = 0; c < 3; ++c) px[(y * 40 + x) * 3 + c] = 230;
            const std::string f = root + "/" + cls + "/" + std::to_string(i) + ".png";
            REQUIRE(stbi_write_png(f.c_str(), 40, 30, 3, px.data(), 40 * 3) != 0);
        }
    }
    ProgramResult r = run_program("build/train --images " + root + " --model mlp --epochs 8 --batch-size 8 --lr 0.05 --out " +
                                      tmp.str() + "/run",
                                  tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.last_line().find("\"test_accuracy\": 1") != std::string::npos);
    ProgramResult p = run_program("build/predict " + tmp.str() + "/run/best.ckpt " + root + "/left/3.png " + root +
                                      "/right/4.png",
                                  tmp.str());
    INFO(p.err);
    REQUIRE(p.status == 0);
    CHECK(p.out.find("left/3.png: left") != std::string::npos);
    CHECK(p.out.find("right/4.png: right") != std::string::npos);
    ProgramResult bad = run_program("build/predict " + tmp.str() + "/run/best.ckpt " + tmp.str() + "/run/metrics.csv",
                                    tmp.str());
    CHECK(bad.status != 0);
    CHECK(bad.err.find("metrics.csv") != std::string::npos);
    ProgramResult wrong = run_program("build/predict " + tmp.str() + "/run/best.ckpt --data", tmp.str());
    CHECK(wrong.status != 0);
    CHECK(wrong.err.find("is outside the class range [0, 2); wrong labels file or wrong data set? (the model " + tmp.str() +
                         "/run/best.ckpt has 2 classes: left, right)") != std::string::npos);
}

TEST_CASE("train: schedules and batch-size rules reach the optimizer") {
    TempDir tmp;
    // --scale-with-batch, momentum: N_g = max(1, 640/64) = 10, eta = 64 * 0.001 / 10 = 0.0064.
    ProgramResult s = run_program(kSmall + "--epochs 1 --optimizer momentum --lr 0.001 --momentum-n 640 "
                                           "--scale-with-batch --out " + tmp.str() + "/s",
                                  tmp.str());
    REQUIRE(s.status == 0);
    CHECK(metrics_column(tmp.str() + "/s", 7).at(0) == doctest::Approx(0.0064).epsilon(1e-5));
    // step decay: eta x 0.1 from epoch 2 on.
    ProgramResult st = run_program(kSmall + "--epochs 2 --optimizer sgd --lr 0.05 --schedule step --milestones 1 "
                                            "--out " + tmp.str() + "/st",
                                   tmp.str());
    REQUIRE(st.status == 0);
    const std::vector<double> lr = metrics_column(tmp.str() + "/st", 7);
    CHECK(lr.at(0) == doctest::Approx(0.05));
    CHECK(lr.at(1) == doctest::Approx(0.005));
    // batch growth (Smith et al.): the batch grows x 1/decay = 4 at the milestone instead.
    ProgramResult bg = run_program(kSmall + "--epochs 2 --optimizer sgd --lr 0.05 --schedule batch-growth "
                                            "--milestones 1 --decay 0.25 --out " + tmp.str() + "/bg",
                                   tmp.str());
    REQUIRE(bg.status == 0);
    const std::vector<double> batch = metrics_column(tmp.str() + "/bg", 8);
    CHECK(batch.at(0) == 64);
    CHECK(batch.at(1) == 256);
    CHECK(metrics_column(tmp.str() + "/bg", 7).at(1) == doctest::Approx(0.05));
}

TEST_CASE("train: --snapshots saves one checkpoint per cosine cycle; predict averages them") {
    TempDir tmp;
    const std::string run = tmp.str() + "/run";
    ProgramResult r = run_program(kSmall + "--epochs 2 --schedule cosine-restarts --cycle-epochs 1 --snapshots --out " +
                                      run,
                                  tmp.str());
    REQUIRE(r.status == 0);
    CHECK(dl::file_exists(run + "/snapshot-1.ckpt"));
    CHECK(dl::file_exists(run + "/snapshot-2.ckpt"));
    CHECK_FALSE(dl::file_exists(run + "/snapshot-3.ckpt"));
    ProgramResult p = run_program("build/predict --ensemble " + run + "/snapshot-1.ckpt " + run +
                                      "/snapshot-2.ckpt --data",
                                  tmp.str());
    INFO(p.err);
    REQUIRE(p.status == 0);
    CHECK(p.out.find("with an ensemble of 2") != std::string::npos);
    CHECK(p.out.find("confusion matrix") != std::string::npos);
}

namespace {

// The data rows of a run's metrics.csv (no comments, no header).
std::vector<std::string> metric_rows(const std::string& dir) {
    std::istringstream in(read_text(dir + "/metrics.csv"));
    std::vector<std::string> rows;
    std::string line;
    while (std::getline(in, line) && line.rfind('#', 0) == 0) {}
    while (std::getline(in, line)) rows.push_back(line);
    return rows;
}

std::string small_train(const TempDir& tmp, const std::string& model = "mlp") {
    return "build/train --model " + model + " --threads 2 --seed 3 --data " + dl::testing::write_small_data(tmp / "data") +
           " ";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("train: --resume continues with --epochs and --lr of its command line (= forms too) and refuses the rest") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b", c = tmp.str() + "/c";
    REQUIRE(run_program(train + "--epochs 3 --optimizer adam --out " + a, tmp.str()).status == 0);
    // --epochs=1, then raised with the = form; --out= on resume.
    REQUIRE(run_program(train + "--epochs=1 --optimizer=adam --out=" + b, tmp.str()).status == 0);
    ProgramResult more = run_program("build/train --resume=" + b + "/model.ckpt --epochs=3 --out=" + b, tmp.str());
    INFO(more.err);
    REQUIRE(more.status == 0);
    CHECK(metrics_without_timing(b) == metrics_without_timing(a));
    // --max-steps=5 stops after 5 steps of this process each time; without it the run goes to its end.
    ProgramResult five = run_program(train + "--epochs 3 --optimizer adam --max-steps=5 --out " + c, tmp.str());
    CHECK(five.status == 130);
    ProgramResult again = run_program("build/train --resume " + c + "/model.ckpt --max-steps 4", tmp.str());
    CHECK(again.status == 130);
    CHECK(has(again.last_line(), "\"interrupted\": true"));
    CHECK(metric_rows(c).empty());  // 9 steps of 9 per epoch: not yet at the end of epoch 1
    ProgramResult rest = run_program("build/train --resume " + c + "/model.ckpt", tmp.str());
    REQUIRE(rest.status == 0);
    CHECK(metrics_without_timing(c) == metrics_without_timing(a));
    // A finished run reports its real test accuracy, and trains nothing.
    const std::string final_accuracy = a.empty() ? "" : [&] {
        const std::vector<double> acc = metrics_column(a, 6);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", acc.back());
        return std::string(buf);
    }();
    ProgramResult done = run_program("build/train --resume " + a + "/model.ckpt", tmp.str());
    INFO(done.err);
    CHECK(done.status == 0);
    CHECK(has(done.err, "the run has finished its 3 epochs: nothing to train (raise --epochs to go on)"));
    CHECK(has(done.last_line(), "\"test_accuracy\": " + final_accuracy + ","));
    CHECK(metric_rows(a).size() == 3);

    // Options that would change the run are refused in one line saying what it holds; its files stay.
    const std::string ckpt = read_text(a + "/model.ckpt"), metrics = read_text(a + "/metrics.csv");
    for (const std::string& change : {std::string("--model cnn"), std::string("--optimizer sgd"),
                                      std::string("--batch-size 32"), "--data " + tmp.str(), std::string("--augment")}) {
        ProgramResult r = run_program("build/train --resume " + a + "/model.ckpt --epochs 4 " + change, tmp.str());
        INFO(change << ": " << r.err);
        CHECK(r.status == 1);
        CHECK(r.err.rfind("train: --resume " + a + "/model.ckpt: the run was started with", 0) == 0);
        CHECK(has(r.err, "--resume may change only --epochs, --lr, --threads, --out, --max-steps and --stats"));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    ProgramResult same = run_program("build/train --resume " + a + "/model.ckpt --model mlp --optimizer adam", tmp.str());
    CHECK(same.status == 0);  // the run's own values are not a change
    CHECK(read_text(a + "/model.ckpt") == ckpt);
    CHECK(read_text(a + "/metrics.csv") == metrics);
    // A new learning rate applies from the next step.
    ProgramResult lr = run_program("build/train --resume " + a + "/model.ckpt --epochs 4 --lr 0.0002", tmp.str());
    INFO(lr.err);
    REQUIRE(lr.status == 0);
    CHECK(metrics_column(a, 7).back() == doctest::Approx(0.0002));
}

TEST_CASE("train: --init-from starts a new run from a checkpoint's weights; another task is refused") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    const std::string base = tmp.str() + "/base", tuned = tmp.str() + "/tuned";
    REQUIRE(run_program(train + "--epochs 2 --optimizer adam --out " + base, tmp.str()).status == 0);
    // No --model: the checkpoint's. A new optimizer, learning rate and epoch count.
    ProgramResult r = run_program("build/train --init-from " + base + "/best.ckpt --data " + tmp.str() +
                                      "/data --optimizer sgd --lr 0.01 --epochs 1 --out " + tuned,
                                  tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(has(r.err, "starting from the weights of " + base + "/best.ckpt"));
    CHECK(has(r.last_line(), "\"model\": \"mlp\", \"optimizer\": \"sgd\""));
    // It starts where the checkpoint was: its first epoch is far better than a fresh model's.
    CHECK(metrics_column(tuned, 2).at(0) > 0.9 * metrics_column(base, 2).back());
    // The fine-tuned run resumes like any other.
    CHECK(run_program("build/train --resume " + tuned + "/model.ckpt --epochs 2", tmp.str()).status == 0);
    // Fine-tuned on data of other statistics (same classes), it keeps the checkpoint's normalisation and resumes.
    dl::testing::SmallData bright;
    bright.brightness = 200;
    dl::testing::write_small_data(tmp / "bright", bright);
    const std::string moved = tmp.str() + "/moved";
    ProgramResult m = run_program("build/train --init-from " + base + "/best.ckpt --data " + tmp.str() +
                                      "/bright --epochs 1 --out " + moved,
                                  tmp.str());
    INFO(m.err);
    REQUIRE(m.status == 0);
    ProgramResult resumed = run_program("build/train --resume " + moved + "/model.ckpt --epochs 2", tmp.str());
    INFO(resumed.err);
    CHECK(resumed.status == 0);
    // A run whose data changed under it is refused.
    dl::testing::write_small_data(tmp / "data", bright);
    ProgramResult changed = run_program("build/train --resume " + base + "/model.ckpt --epochs 3", tmp.str());
    CHECK(changed.status == 1);
    CHECK(has(changed.err, "has changed since the run began"));

    dl::testing::write_small_data(tmp / "fashion-like");
    ProgramResult other = run_program("build/train --init-from " + base + "/best.ckpt --data " + tmp.str() +
                                          "/fashion-like --out " + tmp.str() + "/x",
                                      tmp.str());
    CHECK(other.status == 1);
    CHECK(other.err.rfind("train: class 0 is '0' in --init-from " + base + "/best.ckpt but 'T-shirt/top' in the "
                          "training data ", 0) == 0);
    ProgramResult model = run_program("build/train --init-from " + base + "/best.ckpt --model cnn --data " + tmp.str() +
                                          "/data --out " + tmp.str() + "/y",
                                      tmp.str());
    CHECK(model.status == 1);
    CHECK(has(model.err, "holds model mlp; --model cnn cannot take its weights"));
    ProgramResult both = run_program("build/train --init-from " + base + "/best.ckpt --resume " + base + "/model.ckpt",
                                     tmp.str());
    CHECK(both.status == 1);
    CHECK(has(both.err, "give one"));
}

TEST_CASE("train: a diverging loss stops the run with its step, learning rate and a hint, for every optimizer") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    const std::string run = tmp.str() + "/run";
    REQUIRE(run_program(train + "--epochs 1 --optimizer adam --out " + run, tmp.str()).status == 0);
    const std::string ckpt = read_text(run + "/model.ckpt");
    // Resumed with a learning rate that makes the loss explode: stopped, and epoch 1 is kept.
    ProgramResult r = run_program("build/train --resume " + run + "/model.ckpt --epochs 2 --lr 1e6", tmp.str());
    INFO(r.err);
    CHECK(r.status == 1);
    const std::string last = r.err.substr(r.err.rfind("train: "));
    CHECK(last.rfind("train: training diverged at step ", 0) == 0);
    CHECK(has(last, "with learning rate 1e+06 (adam); try a smaller --lr such as 1e+05"));
    CHECK(has(last, run + "/model.ckpt holds epoch 1, before it"));
    CHECK(read_text(run + "/model.ckpt") == ckpt);
    CHECK(metric_rows(run).size() == 1);
    CHECK_FALSE(dl::file_exists(run + "/model.ckpt.tmp"));
    const std::string cnn_bn = small_train(tmp, "cnn-bn");
    for (const std::string& opt : {cnn_bn + "--optimizer momentum --lr 1e6", train + "--optimizer sgd --lr 1e4",
                                   train + "--optimizer rmsprop --lr 1e4"}) {
        ProgramResult d = run_program(opt + " --epochs 1 --limit 300 --out " + tmp.str() + "/d", tmp.str());
        INFO(opt << ": " << d.err);
        CHECK(d.status == 1);
        CHECK(has(d.err, "train: training diverged at step "));
    }
}

TEST_CASE("train: a run folder is held by one run; default folders are unique; a killed run's lock does not block") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    const std::string run = tmp.str() + "/run";
    ProgramResult r = run_program("(" + train + "--epochs 1000 --out " + run + " & pid=$!; "
                                  "for i in $(seq 100); do [ -s " + run + "/.lock ] && break; sleep 0.1; done; " +
                                  train + "--epochs 1 --out " + run + "; status=$?; kill -9 $pid; wait $pid; exit $status)",
                                  tmp.str());
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(has(r.err, "train: " + run + " is in use by another training run (pid "));
    // The first run was killed (-9) holding the lock: a new run takes the folder.
    ProgramResult after = run_program(train + "--epochs 1 --out " + run, tmp.str());
    INFO(after.err);
    CHECK(after.status == 0);
    // Two runs started in the same second with the default --out write to two folders.
    const std::string repo = std::filesystem::current_path().string();
    const std::string both = "cd " + tmp.str() + " && (" + repo + "/" + train + "--epochs 1 --limit 100 & " + repo + "/" +
                             train + "--epochs 1 --limit 100; wait)";
    REQUIRE(run_program(both, tmp.str()).status == 0);
    int folders = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.str() + "/runs")) {
        ++folders;
        CHECK(dl::file_exists(e.path().string() + "/model.ckpt"));
    }
    CHECK(folders == 2);
}

TEST_CASE("train: best.ckpt is chosen on a validation split held out by default; metrics.csv says so") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    ProgramResult r = run_program(train + "--epochs 2 --out " + tmp.str() + "/run", tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(has(r.err, "540 training examples, 60 for validation"));
    const std::string csv = read_text(tmp.str() + "/run/metrics.csv");
    CHECK(csv.rfind("# best.ckpt is the epoch with the highest val_acc, on a validation split held out from the "
                    "training set (--val-split);\n# test_loss and test_acc are results only", 0) == 0);
    CHECK(metrics_column(tmp.str() + "/run", 4).at(0) > 0.0);  // val_acc
    CHECK(dl::file_exists(tmp.str() + "/run/best.ckpt"));
    ProgramResult none = run_program(train + "--epochs 1 --val-split 0 --out " + tmp.str() + "/none", tmp.str());
    REQUIRE(none.status == 0);
    CHECK(has(none.err, "600 training examples, no validation split (best.ckpt is not written)"));
    CHECK_FALSE(dl::file_exists(tmp.str() + "/none/best.ckpt"));
}

TEST_CASE("train: after a kill or a full disk, --resume neither repeats a metrics row nor leaves .tmp files") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    const std::string run = tmp.str() + "/run", straight = tmp.str() + "/straight";
    REQUIRE(run_program(train + "--epochs 3 --optimizer adam --out " + straight, tmp.str()).status == 0);
    REQUIRE(run_program(train + "--epochs 1 --optimizer adam --out " + run, tmp.str()).status == 0);
    // As a kill between the row of epoch 2 and its checkpoint leaves it, with half-written temporaries.
    const std::vector<std::string> rows = metric_rows(straight);
    std::ofstream(run + "/metrics.csv", std::ios::app) << rows.at(1) << "\n2,0.5,0.";
    std::ofstream(run + "/model.ckpt.tmp") << "half";
    std::ofstream(run + "/best.ckpt.tmp") << "half";
    // A full disk while saving epoch 2 (file size limit, its signal ignored: writes fail with EFBIG).
    const std::string ckpt = read_text(run + "/model.ckpt");
    ProgramResult full = run_program("(ulimit -f 1000; trap '' XFSZ; exec build/train --resume " + run +
                                         "/model.ckpt --epochs 3)",
                                     tmp.str());
    INFO(full.err);
    CHECK(full.status == 1);
    CHECK(has(full.err, "removed 2 temporary files that a killed run left in " + run));
    CHECK(has(full.err, ".ckpt.tmp' failed: File too large (disk full?); the previous checkpoint, if any, is unchanged"));
    CHECK(read_text(run + "/model.ckpt") == ckpt);
    CHECK_FALSE(dl::file_exists(run + "/model.ckpt.tmp"));
    CHECK_FALSE(dl::file_exists(run + "/best.ckpt.tmp"));
    // With space again, the run ends as if nothing had happened.
    ProgramResult rest = run_program("build/train --resume " + run + "/model.ckpt --epochs 3", tmp.str());
    INFO(rest.err);
    REQUIRE(rest.status == 0);
    CHECK(metrics_without_timing(run) == metrics_without_timing(straight));
    for (const auto& e : std::filesystem::directory_iterator(run))
        CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("train: a last batch of one example is left out (batch norm needs two), and the log says so") {
    TempDir tmp;
    const std::string train = small_train(tmp);
    ProgramResult r = run_program(small_train(tmp, "cnn-bn") + "--epochs 1 --limit 129 --batch-size 64 --out " + tmp.str() +
                                      "/bn",
                                  tmp.str());
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(has(r.err, "note: the last batch of each epoch (1 example) is left out: a rank would get a single example"));
    ProgramResult drop = run_program(train + "--epochs 1 --limit 100 --batch-size 64 --drop-last --out " + tmp.str() + "/d",
                                     tmp.str());
    CHECK(drop.status == 0);
    CHECK(has(drop.err, "note: the last batch of each epoch (36 examples) is left out (--drop-last)"));
}

TEST_CASE("train: cnn-bn resumes bit for bit mid-epoch: batch norm statistics and dropout's generator are saved") {
    TempDir tmp;
    const std::string train = small_train(tmp, "cnn-bn") + "--limit 320 --batch-size 32 --optimizer adam ";
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b";
    REQUIRE(run_program(train + "--epochs 2 --out " + a, tmp.str()).status == 0);
    REQUIRE(run_program(train + "--epochs 2 --max-steps 13 --out " + b, tmp.str()).status == 130);
    ProgramResult r = run_program("build/train --resume " + b + "/model.ckpt", tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(metrics_without_timing(b) == metrics_without_timing(a));
    // The same weights and layer state (the files differ in the progress record's timings).
    const dl::Checkpoint x = dl::read_checkpoint(a + "/model.ckpt"), y = dl::read_checkpoint(b + "/model.ckpt");
    REQUIRE(x.tensors.size() == y.tensors.size());
    for (size_t i = 0; i < x.tensors.size(); ++i) CHECK(x.tensors[i].second.vec() == y.tensors[i].second.vec());
    CHECK(x.module_state == y.module_state);
    CHECK(x.extra.at("optimizer") == y.extra.at("optimizer"));
}

TEST_CASE("train: an optimizer that takes the batch size resumes bit for bit where the batch grows") {
    // adaptive takes the batch size (the trainer fills it), so a growing batch gives it a new
    // optimizer at the milestone; a resumed run must load its saved state into the optimizer of
    // the batch it was saved with, not into a new one made later (an earlier trainer rebuilt
    // adaptive's optimizer after every --resume and lost the state it had just loaded).
    TempDir tmp;
    const std::string train = small_train(tmp) + "--optimizer adaptive --adaptive-k 2 --lr 1000 --max-eta 0.05 --schedule batch-growth "
                                                 "--milestones 1 --decay 0.5 ";
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b", c = tmp.str() + "/c";
    REQUIRE(run_program(train + "--epochs 3 --out " + a, tmp.str()).status == 0);
    // Mid-epoch at batch 128 (9 steps of epoch 1 at 64, then 2 of 5 at 128), and before epoch 2 begins.
    REQUIRE(run_program(train + "--epochs 3 --max-steps 11 --out " + b, tmp.str()).status == 130);
    ProgramResult rb = run_program("build/train --resume " + b + "/model.ckpt", tmp.str());
    INFO(rb.err);
    REQUIRE(rb.status == 0);
    REQUIRE(run_program(train + "--epochs 1 --out " + c, tmp.str()).status == 0);
    REQUIRE(run_program("build/train --resume " + c + "/model.ckpt --epochs 3", tmp.str()).status == 0);
    const std::string straight = metrics_without_timing(a);
    CHECK(metrics_column(a, 8) == std::vector<double>{64, 128, 128});
    const std::vector<double> loss = metrics_column(a, 1);
    CHECK(loss.at(2) < 0.8 * loss.at(0));  // it trains (K = 2: updates begin two steps after each new optimizer)
    CHECK(metrics_without_timing(b) == straight);
    CHECK(metrics_without_timing(c) == straight);
    CHECK(dl::read_checkpoint(a + "/model.ckpt").extra.at("optimizer") ==
          dl::read_checkpoint(b + "/model.ckpt").extra.at("optimizer"));
}

TEST_CASE("train: a checkpoint of an older build (every schedule option stored with its default) resumes as it trained") {
    // Older builds stored --tau, --decay, --cycle-epochs and --warmup-epochs with their defaults whatever
    // the schedule, and read --warmup-epochs 0 with --schedule warmup as one epoch of warm-up.
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    const std::string train = "build/train --model mlp --threads 2 --seed 3 --data " + data +
                              " --optimizer momentum --lr 0.02 --schedule warmup ";
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b";
    REQUIRE(run_program(train + "--epochs 2 --out " + a, tmp.str()).status == 0);
    REQUIRE(run_program(train + "--epochs 1 --out " + b, tmp.str()).status == 0);
    const std::vector<std::string> older{"train", "--model=mlp", "--image-size=28", "--epochs=1", "--batch-size=64",
                                         "--optimizer=momentum", "--lr=0.02", "--schedule=warmup", "--tau=1000",
                                         "--decay=0.1", "--cycle-epochs=10", "--warmup-epochs=0", "--crop-padding=2",
                                         "--val-split=0.1", "--seed=3", "--threads=2", "--data=" + data};
    const std::string ckpt = b + "/model.ckpt";
    const std::string edited = dl::testing::edit_record(read_text(ckpt), "args",
                                                        [&](std::string) { return dl::encode_strings(older); });
    std::ofstream(ckpt, std::ios::binary) << edited;
    REQUIRE(dl::decode_strings(dl::read_checkpoint(ckpt).extra.at("args"), "args") == older);
    ProgramResult r = run_program("build/train --resume " + ckpt + " --epochs 2", tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(has(r.err, "schedule warmup warmup_epochs=1 warmup_start=0.1"));
    CHECK(metrics_without_timing(b) == metrics_without_timing(a));
    // The resumed run stores its options in this build's form, with the defaults it trained with.
    const std::vector<std::string> now = dl::decode_strings(dl::read_checkpoint(ckpt).extra.at("args"), "args");
    CHECK(now.at(0) == "train/2");
    for (const char* token : {"--warmup-epochs=1", "--n-g=10", "--nesterov=false"})
        CHECK(std::find(now.begin(), now.end(), token) != now.end());
    CHECK(std::find(now.begin(), now.end(), "--tau=1000") == now.end());
}
