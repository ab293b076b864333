// DataLoader: epoch order, batch making, and the double-buffered worker thread.
#include "data/loader.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core/fast/float_mode.h"
#include "data/random.h"

namespace dl {

Split split_train_val(int count, int val_count, uint64_t seed) {
    if (count <= 0 || val_count < 0 || val_count >= count)
        throw std::invalid_argument("split_train_val: cannot hold out " + std::to_string(val_count) +
                                    " of " + std::to_string(count) +
                                    " examples; expected 0 <= validation < count");
    // A stream of its own (0x5a17) so the split differs from epoch 0's order.
    std::vector<int> perm = random_permutation(count, derive_seed(seed, 0x5a17));
    Split s;
    s.val.assign(perm.begin(), perm.begin() + val_count);
    s.train.assign(perm.begin() + val_count, perm.end());
    std::sort(s.val.begin(), s.val.end());
    std::sort(s.train.begin(), s.train.end());
    return s;
}

namespace {
std::vector<int> all_indices(int count) {
    std::vector<int> v(static_cast<size_t>(std::max(count, 0)));
    std::iota(v.begin(), v.end(), 0);
    return v;
}
}  // namespace

DataLoader::DataLoader(const Dataset& data, const DataLoaderOptions& options)
    : DataLoader(data, all_indices(data.count), options) {}

DataLoader::DataLoader(const Dataset& data, std::vector<int> indices, const DataLoaderOptions& options)
    : data_(data), opt_(options), indices_(std::move(indices)) {
    check_dataset(data_, "given to DataLoader");
    check_options();
    table_ = normalization_table(opt_.norm, data_.channels);
    const int n = size(), bs = opt_.batch_size;
    num_batches_ = opt_.drop_last ? n / bs : (n + bs - 1) / bs;
    if (num_batches_ == 0)
        throw std::invalid_argument("DataLoader: drop_last with " + std::to_string(n) +
                                    " examples and batch size " + std::to_string(bs) +
                                    " leaves no batch; use a smaller batch size");
    if (opt_.background) worker_ = std::thread(&DataLoader::worker_loop, this);
}

void DataLoader::check_options() const {
    if (opt_.batch_size < 1)
        throw std::invalid_argument("DataLoader: batch size " + std::to_string(opt_.batch_size) +
                                    ", expected >= 1");
    if (opt_.augment.crop_padding < 0)
        throw std::invalid_argument("DataLoader: crop padding " +
                                    std::to_string(opt_.augment.crop_padding) + ", expected >= 0");
    if (indices_.empty())
        throw std::invalid_argument("DataLoader: no examples (empty index list)");
    for (int i : indices_)
        if (i < 0 || i >= data_.count)
            throw std::invalid_argument("DataLoader: example index " + std::to_string(i) +
                                        " is outside the data set [0, " + std::to_string(data_.count) + ")");
}

DataLoader::~DataLoader() {
    if (!worker_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        quit_ = true;
    }
    cv_.notify_all();
    worker_.join();
}

void DataLoader::start_epoch(int epoch) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !busy_; });  // the worker reads order_ while busy
    epoch_ = epoch;
    order_ = indices_;
    if (opt_.shuffle) {
        std::mt19937 rng(derive_seed(opt_.seed, uint64_t(epoch), 0));
        shuffle_in_place(order_, rng);
    }
    full_[0] = full_[1] = false;
    held_ = -1;
    next_fill_ = next_take_ = 0;
    error_ = nullptr;
    lock.unlock();
    cv_.notify_all();
}

const Batch* DataLoader::next() {
    if (epoch_ < 0) throw std::logic_error("DataLoader::next: call start_epoch(epoch) first");
    if (opt_.background) return next_background();
    if (next_take_ >= num_batches_) return nullptr;
    fill_batch(next_take_++, slots_[0]);
    return &slots_[0];
}

const Batch* DataLoader::next_background() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (held_ >= 0) {  // the consumer is done with the previous batch
        full_[held_] = false;
        held_ = -1;
        cv_.notify_all();
    }
    if (next_take_ >= num_batches_) return nullptr;
    const int slot = next_take_ % 2;
    auto ready = [&] { return full_[slot] || error_; };
    if (!ready()) {
        auto start = std::chrono::steady_clock::now();
        cv_.wait(lock, ready);
        wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    // Batches before a failure were filled and are delivered first.
    if (!full_[slot]) std::rethrow_exception(error_);
    held_ = slot;
    ++next_take_;
    return &slots_[slot];
}

// The worker fills batch next_fill_ into slot next_fill_ % 2 as soon as the
// consumer has released that slot, and sleeps otherwise.
void DataLoader::worker_loop() {
    apply_float_mode();
    worker_flushes_denormals_ = thread_flushes_denormals();
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        cv_.wait(lock, [&] {
            int slot = next_fill_ % 2;
            return quit_ || (epoch_ >= 0 && !error_ && next_fill_ < num_batches_ &&
                             !full_[slot] && held_ != slot);
        });
        if (quit_) return;
        const int b = next_fill_, slot = b % 2;
        busy_ = true;
        lock.unlock();
        std::exception_ptr error;
        try {
            fill_batch(b, slots_[slot]);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        busy_ = false;
        if (error) error_ = error;
        else {
            full_[slot] = true;
            ++next_fill_;
        }
        cv_.notify_all();
    }
}

// Batch b of the current epoch: examples order_[b * B ...], each made by
// make_example with a generator seeded by (seed, epoch, b + 1).
void DataLoader::fill_batch(int b, Batch& out) const {
    const int start = b * opt_.batch_size;
    const int n = std::min(opt_.batch_size, size() - start);
    const size_t example = data_.image_size();
    out.x.resize(Shape{n, data_.channels, data_.height, data_.width});
    out.y.resize(size_t(n));
    out.indices.resize(size_t(n));
    std::mt19937 rng(derive_seed(opt_.seed, uint64_t(epoch_), uint64_t(b) + 1));
    for (int i = 0; i < n; ++i) {
        const int k = order_[start + i];
        const int label = data_.labels[k];
        if (label < 0 || label >= data_.classes)  // the Dataset was changed after construction
            throw std::invalid_argument("DataLoader: label " + std::to_string(label) + " of example " +
                                        std::to_string(k) + " is outside the class range [0, " +
                                        std::to_string(data_.classes) + ")");
        make_example(out.x.data() + i * example, data_.image(k), data_.channels, data_.height,
                     data_.width, table_.data(), opt_.augment, rng);
        out.y[i] = label;
        out.indices[i] = k;
    }
}

}  // namespace dl
