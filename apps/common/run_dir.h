// The folder a training run writes into, held by one run at a time.
//
// A lock (flock on DIR/.lock, holding the writer's pid) refuses a second run
// that would write the same checkpoints and metrics. The kernel releases it
// when the process ends in any way (even SIGKILL), so a killed run never leaves
// a stale lock behind. Default folders get a suffix (-2, -3, ...) when the name
// is taken, so two runs started in the same second write to different folders.
#pragma once
#include <string>

namespace dl {

class RunDir {
public:
    // Creates `path` (with its parents) if needed and locks it. Throws
    // std::runtime_error naming the other run's pid when it is locked.
    static RunDir open(const std::string& path);
    // A folder that did not exist: `base`, else `base-2`, `base-3`, ... (mkdir is
    // atomic, so two runs racing for a name get different ones), locked.
    static RunDir create_unique(const std::string& base);

    RunDir(RunDir&& other) noexcept;
    RunDir& operator=(RunDir&&) = delete;
    RunDir(const RunDir&) = delete;
    ~RunDir();  // releases the lock

    const std::string& path() const { return path_; }
    // Removes the temporary files an earlier run of this folder left when it was
    // killed mid-write (model.ckpt.tmp, metrics.csv.tmp, curves.png.gp, ...).
    // Returns how many it removed.
    int remove_stale_temporaries() const;
    // After a failed start: removes the folder again if this process created it
    // and nothing but the lock is inside.
    void remove_if_unused();

private:
    RunDir(std::string path, int fd, bool created) : path_(std::move(path)), fd_(fd), created_(created) {}
    static int lock(const std::string& path);

    std::string path_;
    int fd_ = -1;
    bool created_ = false;
};

}  // namespace dl
