#include "apps/study/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "apps/common/report.h"
#include "core/fields.h"
#include "layers/checkpoint.h"

namespace dl::study {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string last_line(const std::string& text) {
    std::istringstream in(text);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty() && line.find_first_not_of(" \r\t") != std::string::npos) last = line;
    return last;
}

void append_line(const std::string& path, const std::string& line) {
    std::ofstream out(path, std::ios::app);
    out << line << '\n';
    if (!out) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

long count_rows(const std::string& run_dir) {
    std::ifstream in(run_dir + "/metrics.csv");
    long n = -1;  // the header (after build/train's "#" comment lines)
    for (std::string line; std::getline(in, line);) n += !line.empty() && line[0] != '#';
    return std::max(0L, n);
}

std::string describe(const RunSpec& r) {
    return r.optimizer + " lr " + lr_text(r.lr) + " seed " + std::to_string(r.seed);
}

std::string duration_text(double s) {
    if (!std::isfinite(s)) return "?";
    const long t = std::lround(s);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%lds", t);
    return buf;
}

// "epoch E batch B" of a build/train checkpoint: where a resumed run continues.
std::string resume_point(const std::string& ckpt) {
    try {
        Checkpoint ck = read_checkpoint(ckpt);
        auto it = ck.extra.find("progress");
        if (it == ck.extra.end()) return "?";
        Fields in = Fields::reader(it->second, ckpt + ": progress");  // named fields (core/fields.h)
        int epoch = 0, batch = 0;
        in("epoch", epoch);
        in("batch", batch);
        return "epoch " + std::to_string(epoch) + " batch " + std::to_string(batch);
    } catch (const std::exception& e) {
        return std::string("? (") + e.what() + ")";
    }
}

}  // namespace

void install_stop_handler() {
    std::signal(SIGINT, on_stop);
    std::signal(SIGTERM, on_stop);
}

struct Runner::Child {
    pid_t pid = 0;
    RunSpec spec;
    double started = 0;
    long rows_at_start = 0;
};

Runner::Runner(const StudyOptions& o) : o_(o), tty_(ProgressBar::stderr_is_tty()) {
    if (::access(o_.train.c_str(), X_OK) != 0)
        throw std::runtime_error("cannot run the trainer " + o_.train + ": " + std::strerror(errno) +
                                 " (build it with make, or give --train PATH)");
    make_dirs(o_.out + "/runs");
    lock_folder();
    check_settings();
}

Runner::~Runner() {
    stop_children();
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Runner::lock_folder() {
    const std::string path = o_.out + "/study.lock";
    lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);  // no O_CLOEXEC: the children hold it too
    if (lock_fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    // The children of a killed study may still be saving their checkpoints: wait a little.
    for (int tries = 0; ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0; ++tries) {
        if (tries == 0) std::fprintf(stderr, "study: %s is in use; waiting for it (up to 60 s)\n", o_.out.c_str());
        if (tries >= 600)
            throw std::runtime_error(o_.out + " is used by another study (" + path + " is locked)");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// A study folder holds runs of one set of settings: a restart with other
// settings would mix numbers that cannot be compared.
void Runner::check_settings() {
    const std::string path = o_.out + "/study.txt";
    const std::string now = settings_text(o_);
    if (file_exists(path)) {
        const std::string before = read_text(path);
        if (before != now) {
            std::istringstream a(before), b(now);
            std::string la, lb;
            while (std::getline(a, la) && std::getline(b, lb) && la == lb) {}
            throw std::invalid_argument(o_.out + " holds a study with other settings ('" + la + "' there, '" + lb +
                                        "' now): use another --out or the same settings");
        }
    } else {
        write_file_atomic(path, now);
    }
}

void Runner::log(const std::string& line) {
    char stamp[32];
    std::time_t t = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    append_line(o_.out + "/study.log", std::string(stamp) + " " + line);
}

std::vector<RunResult> Runner::tuning_results(const std::string& optimizer) const {
    std::vector<RunResult> out;
    for (double lr : grid_for(o_, optimizer))
        out.push_back(read_run({optimizer, lr, o_.seeds[0], Phase::Tune, run_dir(o_, optimizer, lr, o_.seeds[0])}));
    return out;
}

std::vector<RunResult> Runner::seed_results(const std::string& optimizer) const {
    const std::vector<RunResult> tuning = tuning_results(optimizer);
    for (const RunResult& r : tuning)
        if (r.status != RunStatus::Done && r.status != RunStatus::Failed) return {};
    const RunResult* best = best_run(tuning);
    if (!best) return {};
    std::vector<RunResult> out{*best};
    for (const RunSpec& s : seed_runs(o_, optimizer, best->spec.lr)) out.push_back(read_run(s));
    return out;
}

// When an optimizer's tuning is complete, its seed runs join the queue.
void Runner::enqueue_ready(const std::string& optimizer) {
    if (seeds_enqueued_[optimizer]) return;
    const std::vector<RunResult> tuning = tuning_results(optimizer);
    for (const RunResult& r : tuning)
        if (r.status != RunStatus::Done && r.status != RunStatus::Failed) return;
    seeds_enqueued_[optimizer] = true;
    const RunResult* best = best_run(tuning);
    if (!best) {
        log(optimizer + ": every grid point failed; no seed runs");
        done_ += static_cast<int>(o_.seeds.size()) - 1;  // they will never run
        return;
    }
    log(optimizer + ": best lr " + lr_text(best->spec.lr) + " (final validation accuracy " +
        std::to_string(best->final_val()) + ")");
    for (const RunSpec& s : seed_runs(o_, optimizer, best->spec.lr)) {
        const RunResult r = read_run(s);
        if (r.status == RunStatus::Done || r.status == RunStatus::Failed) ++done_;
        else queue_.push_back(s);
    }
}

void Runner::start(const RunSpec& r) {
    make_dirs(r.dir);
    std::vector<std::string> args;
    const std::string ckpt = r.dir + "/model.ckpt";
    if (file_exists(ckpt)) {
        args = {"--resume", ckpt, "--epochs", std::to_string(o_.epochs), "--threads", std::to_string(o_.threads),
                "--out", r.dir};
        append_line(r.dir + "/segments.txt", std::to_string(count_rows(r.dir)));
        log("resume " + describe(r) + " at " + resume_point(ckpt) + " (" + std::to_string(count_rows(r.dir)) +
            " epochs in metrics.csv)");
    } else {
        std::remove((r.dir + "/metrics.csv").c_str());  // rows of a run killed before its first checkpoint
        std::remove((r.dir + "/segments.txt").c_str());
        args = train_command(o_, r);
        log("start " + describe(r));
    }
    std::vector<std::string> argv{o_.train};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const std::string out = r.dir + "/train.out", err = r.dir + "/train.log";
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the study died: save a checkpoint and stop
        if (::getppid() != parent) ::_exit(130);
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        const int in = ::open("/dev/null", O_RDONLY);
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || o < 0 || e < 0) ::_exit(127);
        ::dup2(in, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ::execv(cargv[0], cargv.data());
        std::fprintf(stderr, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
        ::_exit(127);
    }
    Child* c = new Child;
    c->pid = pid;
    c->spec = r;
    c->started = now_seconds();
    c->rows_at_start = count_rows(r.dir);
    running_.push_back(c);
}

// A child has exited: mark its folder done, failed, or leave it resumable.
void Runner::finish(Child& c, int status) {
    const RunSpec& r = c.spec;
    const double wall = now_seconds() - c.started;
    const long epochs = count_rows(r.dir) - c.rows_at_start;
    if (epochs > 0) {  // measured speed, for the time left
        const double spe = seconds_per_epoch_[r.optimizer], n = epochs_measured_[r.optimizer];
        seconds_per_epoch_[r.optimizer] = (spe * n + wall) / (n + epochs);
        epochs_measured_[r.optimizer] += static_cast<int>(epochs);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        write_file_atomic(r.dir + "/done.json", last_line(read_text(r.dir + "/train.out")) + "\n");
        if (!keep_checkpoints_)
            for (const char* f : {"/model.ckpt", "/best.ckpt"}) std::remove((r.dir + f).c_str());
        ++done_;
        log("done " + describe(r) + " in " + duration_text(wall));
        if (r.phase == Phase::Tune) enqueue_ready(r.optimizer);
        return;
    }
    const std::string error = last_line(read_text(r.dir + "/train.log"));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 130) {  // stopped; it saved a checkpoint
        log("stopped " + describe(r) + " (resumable)");
        if (!g_stop) queue_.insert(queue_.begin(), r);  // only the child was stopped: resume it
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {  // the trainer's own error: diverged, or bad input
        write_file_atomic(r.dir + "/failed.txt", error + "\n");
        ++done_;
        log("failed " + describe(r) + ": " + error);
        if (r.phase == Phase::Tune) enqueue_ready(r.optimizer);
        return;
    }
    if (WIFSIGNALED(status) && ++signal_deaths_[r.dir] < 2) {  // killed from outside (OOM?): once more
        log("killed " + describe(r) + " by signal " + std::to_string(WTERMSIG(status)) + "; will resume it");
        queue_.insert(queue_.begin(), r);
        return;
    }
    // Exit codes of 2 and above come from argument parsing: every run would fail the same way.
    throw std::runtime_error("the trainer refused " + describe(r) + " (" + r.dir + "/train.log): " + error);
}

void Runner::stop_children() {
    for (Child* c : running_) ::kill(c->pid, SIGTERM);
    for (Child* c : running_) {
        int status = 0;
        while (::waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {}
        try {
            finish(*c, status);
        } catch (const std::exception&) {
            // already stopping; the folder stays resumable
        }
        delete c;
    }
    running_.clear();
}

double Runner::seconds_left() const {
    double known = 0;
    int n = 0;
    for (const auto& [name, spe] : seconds_per_epoch_) {
        known += spe;
        ++n;
    }
    if (n == 0) return NAN;
    const double fallback = known / n;
    auto rate = [&](const std::string& name) {
        auto it = seconds_per_epoch_.find(name);
        return it != seconds_per_epoch_.end() ? it->second : fallback;
    };
    double work = 0;  // seconds of one job
    for (const std::string& name : o_.optimizers) {
        for (const RunResult& r : tuning_results(name))
            if (r.status != RunStatus::Done && r.status != RunStatus::Failed)
                work += (o_.epochs - std::min<long>(o_.epochs, r.rows.size())) * rate(name);
        auto it = seeds_enqueued_.find(name);
        if (it == seeds_enqueued_.end() || !it->second) {
            work += (o_.seeds.size() - 1) * o_.epochs * rate(name);
        } else {
            for (const RunResult& r : seed_results(name))
                if (r.status != RunStatus::Done && r.status != RunStatus::Failed)
                    work += (o_.epochs - std::min<long>(o_.epochs, r.rows.size())) * rate(name);
        }
    }
    return work / std::max(1, std::min(o_.jobs, total_ - done_));
}

// "study 12/77 runs done | adam lr 0.001 seed 1 epoch 3/5 | about 4m10s left"
void Runner::draw_progress(bool force) {
    const double t = now_seconds();
    if (!force && t - last_draw_ < 1.0) return;
    last_draw_ = t;
    std::string line = "study " + std::to_string(done_) + "/" + std::to_string(total_) + " runs done";
    for (const Child* c : running_)
        line += " | " + describe(c->spec) + " epoch " +
                std::to_string(std::min<long>(o_.epochs, count_rows(c->spec.dir) + 1)) + "/" +
                std::to_string(o_.epochs);
    const double left = seconds_left();
    line += std::isfinite(left) ? " | about " + duration_text(left) + " left" : " | time left: measuring";
    if (tty_) {
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else if (force && done_ != drawn_done_) {  // a log file: one line per finished run
        std::fprintf(stderr, "%s\n", line.c_str());
        drawn_done_ = done_;
    }
    std::fflush(stderr);
}

bool Runner::run_all() {
    start_ = now_seconds();
    total_ = 0;
    done_ = 0;
    for (const std::string& name : o_.optimizers) {
        total_ += static_cast<int>(grid_for(o_, name).size() + o_.seeds.size() - 1);
        for (const RunResult& r : tuning_results(name)) {
            if (r.status == RunStatus::Done || r.status == RunStatus::Failed) ++done_;
            else queue_.push_back(r.spec);
        }
    }
    const int before = done_;
    for (const std::string& name : o_.optimizers) enqueue_ready(name);
    if (done_ > 0)
        std::fprintf(stderr, "study: %d of %d runs already done in %s (%d tuning runs); continuing\n", done_, total_,
                     o_.out.c_str(), before);
    log("study started: " + std::to_string(done_) + "/" + std::to_string(total_) + " runs done, " +
        std::to_string(o_.jobs) + " jobs x " + std::to_string(o_.threads) + " threads");
    drawn_done_ = -1;
    draw_progress(true);
    while (!g_stop && (!queue_.empty() || !running_.empty())) {
        while (!g_stop && !queue_.empty() && static_cast<int>(running_.size()) < o_.jobs) {
            const RunSpec r = queue_.front();
            queue_.erase(queue_.begin());
            start(r);
            draw_progress(true);
        }
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            auto it = std::find_if(running_.begin(), running_.end(), [&](const Child* c) { return c->pid == pid; });
            if (it == running_.end()) continue;
            Child* c = *it;
            running_.erase(it);
            finish(*c, status);
            delete c;
            draw_progress(true);
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        draw_progress(false);
    }
    const bool stopped = g_stop != 0;
    stop_children();
    seconds_ = now_seconds() - start_;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    log(stopped ? "study stopped after " + duration_text(seconds_)
                : "study finished in " + duration_text(seconds_) + " (this invocation)");
    return !stopped;
}

}  // namespace dl::study
