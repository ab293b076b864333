// End-to-end checks of build/train and build/predict: a run whose loss falls,
// exact resumption (after a finished epoch and mid-epoch), Ctrl-C, bad input,
// training on an image folder, and classifying images.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>

#include <csignal>
#include <vector>

#include "apps/common/report.h"
#include "tests/run_program.h"

using dl::testing::ProgramResult;
using dl::testing::read_text;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

const std::string kSmall = "build/train --model mlp --limit 2000 --threads 2 --seed 5 ";

// The metrics rows without the timing columns (examples/s, seconds), which differ run to run.
std::string metrics_without_timing(const std::string& dir) {
    std::istringstream in(read_text(dir + "/metrics.csv"));
    std::string out;
    for (std::string line; std::getline(in, line);) {
        for (int cut = 0; cut < 3; ++cut) line = line.substr(0, line.rfind(','));  // seconds, noise, ex/s
        out += line + "\n";
    }
    return out;
}

std::vector<double> column(const std::string& dir, int index) {
    std::istringstream in(read_text(dir + "/metrics.csv"));
    std::vector<double> v;
    std::string line;
    while (std::getline(in, line) && line.rfind('#', 0) == 0) {}  // comments, then the header
    while (std::getline(in, line)) {
        std::istringstream row(line);
        std::string cell;
        for (int i = 0; i <= index; ++i) std::getline(row, cell, ',');
        v.push_back(std::stod(cell));
    }
    return v;
}

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
    const std::vector<double> loss = column(tmp.str() + "/run", 1);
    REQUIRE(loss.size() == 3);
    CHECK(loss[2] < 0.8 * loss[0]);
    CHECK(column(tmp.str() + "/run", 6).back() > 0.7);  // test accuracy after 3 epochs on 2000 examples
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
    CHECK(column(tmp.str() + "/r", 10).at(0) > 0.0);  // noise_scale
    ProgramResult bn = run_program("build/train --model cnn-bn --limit 256 --epochs 1 --stats --out " + tmp.str() + "/bn",
                                   tmp.str());
    CHECK(bn.status != 0);
    CHECK(bn.err.find("mixes the examples") != std::string::npos);
}

TEST_CASE("train: Ctrl-C saves a resumable checkpoint and exits cleanly") {
    TempDir tmp;
    const std::string run = tmp.str() + "/run";
    ProgramResult r = run_program("(" + kSmall + "--epochs 1000 --out " + run + " & pid=$!; sleep 2; kill -INT $pid; wait $pid)",
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
    CHECK(column(tmp.str() + "/s", 7).at(0) == doctest::Approx(0.0064).epsilon(1e-5));
    // step decay: eta x 0.1 from epoch 2 on.
    ProgramResult st = run_program(kSmall + "--epochs 2 --optimizer sgd --lr 0.05 --schedule step --milestones 1 "
                                            "--out " + tmp.str() + "/st",
                                   tmp.str());
    REQUIRE(st.status == 0);
    const std::vector<double> lr = column(tmp.str() + "/st", 7);
    CHECK(lr.at(0) == doctest::Approx(0.05));
    CHECK(lr.at(1) == doctest::Approx(0.005));
    // batch growth (Smith et al.): the batch grows x 1/decay = 4 at the milestone instead.
    ProgramResult bg = run_program(kSmall + "--epochs 2 --optimizer sgd --lr 0.05 --schedule batch-growth "
                                            "--milestones 1 --decay 0.25 --out " + tmp.str() + "/bg",
                                   tmp.str());
    REQUIRE(bg.status == 0);
    const std::vector<double> batch = column(tmp.str() + "/bg", 8);
    CHECK(batch.at(0) == 64);
    CHECK(batch.at(1) == 256);
    CHECK(column(tmp.str() + "/bg", 7).at(1) == doctest::Approx(0.05));
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
