// DataLoader: turns a Dataset (or a subset of its examples) into normalised
// float batches, epoch after epoch.
//
// - Order: each epoch is a fresh permutation seeded by (seed, epoch), so the
//   same seed gives the same batches in every run; shuffle = false keeps the
//   given order.
// - Augmentation draws from a generator seeded by (seed, epoch, batch), so the
//   batches do not depend on thread timing either.
// - Background: a worker thread fills two batch buffers in turn (double
//   buffering). While the training step uses one batch the worker prepares the
//   next, so data never waits the step. Buffers are reused: after the first
//   two batches, making a batch allocates nothing.
// - An exception in the worker is rethrown by next() at the batch where it
//   happened; the destructor stops and joins the worker.
// - One consumer: call start_epoch() and next() from a single thread.
//
// Typical use:
//   Split s = split_train_val(train.count, 5000, seed);
//   DataLoaderOptions o;  o.norm = compute_normalization(train, s.train);
//   DataLoader loader(train, s.train, o);
//   for (int e = 0; e < epochs; ++e) {
//       loader.start_epoch(e);
//       while (const Batch* b = loader.next()) step(b->x, b->y);
//   }
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transform.h"

namespace dl {

struct Batch {
    Tensor x;                  // (B, C, H, W), normalised floats
    std::vector<int> y;        // (B) labels
    std::vector<int> indices;  // (B) which examples of the Dataset these are
};

struct DataLoaderOptions {
    int batch_size = 64;
    bool shuffle = true;
    bool drop_last = false;   // true: skip the last, smaller batch
    uint64_t seed = 0;
    Normalization norm;       // from compute_normalization on the training split; empty: pixel / 255
    Augmentation augment;     // for training loaders only
    bool background = true;   // false: make each batch inside next() (same batches, no thread)
};

// Training and validation examples: `val_count` examples chosen by a
// permutation seeded with `seed` are held out. Both lists are sorted.
struct Split {
    std::vector<int> train;
    std::vector<int> val;
};
Split split_train_val(int count, int val_count, uint64_t seed);

class DataLoader {
public:
    // All examples of `data`, or the examples `indices` (not empty). `data`
    // must outlive the loader. Throws std::invalid_argument on bad options,
    // an index outside the data set, or a batch size that with drop_last
    // leaves no batch at all.
    DataLoader(const Dataset& data, const DataLoaderOptions& options);
    DataLoader(const Dataset& data, std::vector<int> indices, const DataLoaderOptions& options);
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    int size() const { return int(indices_.size()); }  // examples per epoch
    int batches_per_epoch() const { return num_batches_; }

    // Begins epoch `epoch` (abandoning what is left of the current one).
    void start_epoch(int epoch);
    // The next batch of the epoch, nullptr after the last one. The batch stays
    // valid until the next call of next() or start_epoch().
    const Batch* next();
    // Seconds next() has spent waiting for the worker, in total: near zero
    // when data preparation keeps up with training.
    double wait_seconds() const { return wait_seconds_; }
    // Whether the worker thread flushes denormals (core/fast/float_mode.h), as it
    // found when it started: for tests. False without a worker.
    bool worker_flushes_denormals() const { return worker_flushes_denormals_.load(); }

private:
    void check_options() const;
    void worker_loop();
    void fill_batch(int b, Batch& out) const;
    const Batch* next_background();

    const Dataset& data_;
    DataLoaderOptions opt_;
    std::vector<int> indices_;  // the examples this loader serves
    std::vector<float> table_;  // (C, 256) normalisation lookup
    int num_batches_ = 0;

    // Epoch state: written by start_epoch while the worker is idle.
    std::vector<int> order_;    // this epoch's order of indices_
    int epoch_ = -1;
    int next_take_ = 0;         // batch index next() returns next
    double wait_seconds_ = 0.0;

    // Double buffer shared with the worker, guarded by mutex_.
    Batch slots_[2];
    bool full_[2] = {false, false};
    int held_ = -1;             // slot the consumer is reading, or -1
    int next_fill_ = 0;         // batch index the worker fills next
    bool busy_ = false;         // the worker is filling a slot
    bool quit_ = false;
    std::exception_ptr error_;  // from the worker, for batch next_fill_
    std::mutex mutex_;
    std::condition_variable cv_;
    std::atomic<bool> worker_flushes_denormals_{false};
    std::thread worker_;
};

}  // namespace dl
