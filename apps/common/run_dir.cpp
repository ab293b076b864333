#include "apps/common/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "apps/common/report.h"

namespace dl {

namespace fs = std::filesystem;

// Opens DIR/.lock and takes an exclusive flock on it; writes this pid into it.
int RunDir::lock(const std::string& path) {
    const std::string file = path + "/.lock";
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + file + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char pid[32] = {0};
        const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
        ::close(fd);
        std::string who = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
        while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
        if (e == EWOULDBLOCK)
            throw std::runtime_error(path + " is in use by another training run (pid " + who +
                                     "); wait for it to end or choose another --out");
        throw std::runtime_error("cannot lock " + file + ": " + std::strerror(e));
    }
    const std::string me = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("cannot write " + file + ": " + std::strerror(e));
    }
    return fd;
}

RunDir RunDir::open(const std::string& path) {
    const bool existed = fs::exists(path);
    make_dirs(path);
    return RunDir(path, lock(path), !existed);
}

RunDir RunDir::create_unique(const std::string& base) {
    const fs::path parent = fs::path(base).parent_path();
    if (!parent.empty()) make_dirs(parent.string());
    for (int k = 1; k < 10000; ++k) {
        const std::string path = k == 1 ? base : base + "-" + std::to_string(k);
        if (::mkdir(path.c_str(), 0755) == 0) return RunDir(path, lock(path), true);
        if (errno != EEXIST) throw std::runtime_error("cannot create directory " + path + ": " + std::strerror(errno));
    }
    throw std::runtime_error("cannot find a free folder name after " + base + "-9999");
}

RunDir::RunDir(RunDir&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_), created_(other.created_) {
    other.fd_ = -1;
}

RunDir::~RunDir() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The temporaries this program writes in a run folder: model.ckpt.tmp, best.ckpt.tmp,
// snapshot-N.ckpt.tmp, metrics.csv.tmp, curves.png.tmp.png, curves.png.gp.
bool our_temporary(const std::string& name) {
    if (name == "model.ckpt.tmp" || name == "best.ckpt.tmp" || name == "metrics.csv.tmp" ||
        name == "curves.png.tmp.png" || name == "curves.png.gp")
        return true;
    const std::string prefix = "snapshot-", suffix = ".ckpt.tmp";
    if (name.rfind(prefix, 0) != 0 || !ends_with(name, suffix) || name.size() <= prefix.size() + suffix.size())
        return false;
    for (size_t i = prefix.size(); i < name.size() - suffix.size(); ++i)
        if (name[i] < '0' || name[i] > '9') return false;
    return true;
}

}  // namespace

int RunDir::remove_stale_temporaries() const {
    // Only names this program writes: a user's own *.tmp files in --out are left alone.
    int removed = 0;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(path_, ec))
        if (our_temporary(e.path().filename().string()) && fs::remove(e.path(), ec)) ++removed;
    return removed;
}

void RunDir::remove_if_unused() {
    if (!created_ || fd_ < 0) return;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(path_, ec))
        if (e.path().filename() != ".lock") return;
    fs::remove(fs::path(path_) / ".lock", ec);
    fs::remove(path_, ec);
}

}  // namespace dl
