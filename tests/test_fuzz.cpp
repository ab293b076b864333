// Fuzzing the readers of files users hand us: a few thousand mutated IDX
// headers, gzip streams and checkpoints (bit flips, bytes set to 0xFF,
// truncations, huge counts and lengths, and payloads edited behind valid
// checksums). Each must load or throw std::runtime_error / invalid_argument:
// never crash, never hang (a watchdog ends the program), and never ask for more
// than kAllocationLimit bytes at once (the files are a few kilobytes). The
// 6000 cases take under a second here (on tmpfs).
// Seeded, so a failure reproduces; `make sanitize` runs the same cases under
// AddressSanitizer and UBSan.
#include <doctest/doctest.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "apps/common/task.h"
#include "data/idx.h"
#include "layers/checkpoint.h"
#include "layers/layers.h"
#include "tests/alloc_counter.h"
#include "tests/checkpoint_edit.h"
#include "tests/temp_dir.h"

using namespace dl;
using dl::testing::TempDir;

namespace {

constexpr std::size_t kAllocationLimit = std::size_t(4) << 20;  // 4 MB: the files are a few kB, a gzip of them expands at most 1032-fold
constexpr int kWatchdogSeconds = 120;  // far above the few seconds the cases take (minutes under sanitizers)

// Ends the test program if the cases take longer than kWatchdogSeconds: a hang fails loudly.
class Watchdog {
public:
    explicit Watchdog(const char* what) : thread_([this, what] {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, std::chrono::seconds(kWatchdogSeconds), [this] { return done_; })) {
            std::fprintf(stderr, "fuzz: %s did not finish in %d s (a hang?)\n", what, kWatchdogSeconds);
            std::_Exit(1);
        }
    }) {}
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

// Thousands of small files: in memory (tmpfs) when the machine has one, so a busy disk does not slow the cases.
std::filesystem::path scratch_base() {
    std::error_code ec;
    return std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& bytes, const std::string& path) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
    return read_bytes(path);
}

// One random damage: flip bits, set bytes to 0xFF or 0, write a huge 32-bit
// value, truncate, or repeat a slice.
std::string mutate(std::string s, std::mt19937& rng, size_t focus_end = 0) {
    if (s.empty()) return s;
    auto pos = [&] {
        const size_t end = focus_end && rng() % 2 ? std::min(focus_end, s.size()) : s.size();
        return static_cast<size_t>(rng() % end);
    };
    switch (rng() % 6) {
        case 0:
            for (int k = 1 + rng() % 3; k > 0; --k) s[pos()] ^= static_cast<char>(1u << (rng() % 8));
            break;
        case 1: s[pos()] = static_cast<char>(rng() % 2 ? 0xFF : 0x00); break;
        case 2: {  // a huge count or length, either byte order
            const size_t at = pos();
            const std::uint32_t v = rng() % 2 ? 0xFFFFFFFFu : 0x40000000u + (rng() & 0xFFFF);
            for (size_t k = 0; k < 4 && at + k < s.size(); ++k) s[at + k] = static_cast<char>(v >> (8 * k));
            break;
        }
        case 3: s.resize(static_cast<size_t>(rng() % s.size())); break;
        case 4: {
            const size_t at = pos(), n = std::min<size_t>(1 + rng() % 32, s.size() - at);
            s.insert(at, s.substr(at, n));
            break;
        }
        default: s[pos()] = static_cast<char>(rng()); break;
    }
    return s;
}

// Runs f on one damaged file: it may succeed or throw the documented exceptions, within the allocation limit.
int g_refused = 0, g_loaded = 0;
void expect_clean(const std::function<void()>& f, const std::string& what) {
    dl::testing::largest_allocation = 0;
    try {
        f();
        ++g_loaded;
    } catch (const std::runtime_error&) {
        ++g_refused;
    } catch (const std::invalid_argument&) {
        ++g_refused;
    }
    const std::size_t largest = dl::testing::largest_allocation;
    if (largest > kAllocationLimit) FAIL_CHECK(what << ": allocated " << largest << " bytes at once");
}

std::string idx_bytes(const std::vector<uint32_t>& dims, size_t data) {
    std::string b = {0, 0, 8, static_cast<char>(dims.size())};
    for (uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<char>(d >> shift));
    for (size_t k = 0; k < data; ++k) b.push_back(static_cast<char>(k * 7));
    return b;
}

}  // namespace

TEST_CASE("fuzz: mutated IDX headers and gzip streams load or fail cleanly") {
    Watchdog watchdog("the IDX cases");
    TempDir dir(scratch_base());
    std::mt19937 rng(2024);
    const std::string images = idx_bytes({5, 4, 3}, 60), labels = idx_bytes({5}, 0);
    std::string label_bytes = labels;
    for (int i = 0; i < 5; ++i) label_bytes.push_back(static_cast<char>(i % 3));
    write_bytes(dir / "lb", label_bytes);
    const std::string gz_images = gzip(idx_bytes({50, 28, 28}, 50 * 28 * 28), dir / "tmp.gz");
    g_refused = g_loaded = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1500; ++i) {  // plain files, damage mostly in the 16-byte header
        const std::string path = dir / "im";
        write_bytes(path, mutate(images, rng, 16));
        expect_clean([&] { load_idx(path, dir / "lb"); }, "plain IDX case " + std::to_string(i));
    }
    for (int i = 0; i < 1000; ++i) {  // gzip files damaged anywhere
        const std::string path = dir / "im.gz";
        write_bytes(path, mutate(gz_images, rng));
        expect_clean([&] { read_idx(path, 3, "images"); }, "gzip case " + std::to_string(i));
    }
    for (int i = 0; i < 500; ++i) {  // intact gzip streams around damaged headers (huge counts expand from a few bytes)
        const std::string path = dir / "hd.gz";
        gzip(mutate(idx_bytes({3, 28, 28}, 3 * 28 * 28), rng, 16), path);
        expect_clean([&] { read_idx(path); }, "gzip header case " + std::to_string(i));
    }
    INFO("3000 cases: " << g_refused << " refused, " << g_loaded << " loaded");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(kWatchdogSeconds / 2));
    CHECK(g_refused > 2000);  // the mutations do damage
    CHECK(g_loaded > 0);      // and some leave a valid file (a changed pixel)
}

TEST_CASE("fuzz: mutated checkpoints load or fail cleanly, with and without valid checksums") {
    Watchdog watchdog("the checkpoint cases");
    TempDir dir(scratch_base());
    std::mt19937 rng(7);
    std::mt19937 init(1);
    Sequential model;
    model.add<Linear>(4, 3, init);
    model.add<BatchNorm1d>(3);
    const ModelSpec spec{"mlp", 1, 2, 2, 3};
    std::map<std::string, std::string> extra;
    extra["args"] = encode_strings({"train", "--epochs=2"});
    save_checkpoint(dir / "good.ckpt", spec, model, extra, DataInfo{{"a", "b", "c"}, {0.5f}, {0.25f}});
    const std::string good = read_bytes(dir / "good.ckpt");
    const auto records = dl::testing::checkpoint_records(good);
    const std::string path = dir / "bad.ckpt";
    auto load_all = [&] {
        Checkpoint ck = read_checkpoint(path);
        read_task(ck, path);
        decode_strings(ck.extra.at("args"), "args");
        Sequential target;
        std::mt19937 r(1);
        target.add<Linear>(4, 3, r);
        target.add<BatchNorm1d>(3);
        load_state(target, ck, path);
    };
    g_refused = g_loaded = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1500; ++i) {  // raw damage: the checksums find it
        std::string bad = mutate(good, rng);
        if (bad == good) bad.pop_back();  // a mutation that changed nothing (a bit flipped twice)
        write_bytes(path, bad);
        expect_clean(load_all, "checkpoint case " + std::to_string(i));
    }
    CHECK(g_loaded == 0);  // a damaged checkpoint never loads
    for (int i = 0; i < 1500; ++i) {  // a record's payload damaged behind valid checksums: the decoders must hold
        const auto& rec = records[rng() % records.size()];
        write_bytes(path, dl::testing::edit_record(good, rec.name, [&](std::string p) { return mutate(p, rng, 8); }));
        expect_clean(load_all, "payload case " + std::to_string(i) + " (" + rec.name + ")");
    }
    INFO("3000 cases: " << g_refused << " refused, " << g_loaded << " loaded");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(kWatchdogSeconds / 2));
    CHECK(g_refused > 2500);
}
