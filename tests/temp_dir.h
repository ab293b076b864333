// TempDir: a fresh directory under the system temp dir for one test, removed
// with its contents when the test ends.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

namespace dl::testing {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
        static int counter = 0;
        path = base / ("dl_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path.string(); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace dl::testing
