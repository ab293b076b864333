// Tests of data/loader and data/transform: the train/validation split, epoch
// order, batches, normalisation, augmentation, the background thread.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>
#include <vector>

#include "data/loader.h"
#include "data/random.h"

using namespace dl;

namespace {

// n images (channels, 5, 4) of deterministic pseudo-random pixels; label i mod 3.
Dataset small_set(int n, int channels = 1) {
    Dataset d;
    d.count = n;
    d.channels = channels;
    d.height = 5;
    d.width = 4;
    d.classes = 3;
    d.images.resize(size_t(n) * d.image_size());
    std::mt19937 rng(42);
    for (auto& p : d.images) p = uint8_t(rng() & 0xFF);
    for (int i = 0; i < n; ++i) d.labels.push_back(i % 3);
    return d;
}

// Every batch of one epoch, copied.
std::vector<Batch> epoch_batches(DataLoader& loader, int epoch) {
    std::vector<Batch> out;
    loader.start_epoch(epoch);
    while (const Batch* b = loader.next()) out.push_back(*b);
    return out;
}

std::vector<int> epoch_order(DataLoader& loader, int epoch) {
    std::vector<int> order;
    for (const Batch& b : epoch_batches(loader, epoch))
        order.insert(order.end(), b.indices.begin(), b.indices.end());
    return order;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].x.vec() != b[i].x.vec() || a[i].y != b[i].y || a[i].indices != b[i].indices)
            return false;
    return true;
}

}  // namespace

TEST_CASE("data: random helpers are portable and unbiased in range") {
    std::mt19937 rng(1);
    for (int i = 0; i < 1000; ++i) {
        CHECK(uniform_below(rng, 7) < 7);
        float u = uniform01(rng);
        CHECK((u >= 0.0f && u < 1.0f));
    }
    std::vector<int> p = random_permutation(50, 9);
    std::vector<int> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> iota(50);
    std::iota(iota.begin(), iota.end(), 0);
    CHECK(sorted == iota);
    CHECK(p != iota);
    CHECK(random_permutation(50, 9) == p);
    CHECK(derive_seed(1, 2, 3) != derive_seed(1, 3, 2));
    // Normals have mean ~0 and variance ~1.
    double s = 0, q = 0;
    for (int i = 0; i < 20000; ++i) {
        double z = normal01(rng);
        s += z;
        q += z * z;
    }
    CHECK(std::abs(s / 20000) < 0.03);
    CHECK(std::abs(q / 20000 - 1.0) < 0.05);
}

TEST_CASE("data: split_train_val holds out a seeded, disjoint validation set") {
    Split s = split_train_val(100, 20, 7);
    CHECK(s.train.size() == 80);
    CHECK(s.val.size() == 20);
    CHECK(std::is_sorted(s.train.begin(), s.train.end()));
    std::vector<int> all = s.train;
    all.insert(all.end(), s.val.begin(), s.val.end());
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
    CHECK(all.front() == 0);
    CHECK(all.back() == 99);
    CHECK(split_train_val(100, 20, 7).val == s.val);
    CHECK(split_train_val(100, 20, 8).val != s.val);
    CHECK(split_train_val(100, 0, 7).train.size() == 100);
    CHECK_THROWS_WITH_AS(split_train_val(100, 100, 7), doctest::Contains("cannot hold out 100 of 100"),
                         std::invalid_argument);
}

TEST_CASE("data: each epoch is a seeded permutation; batches and drop_last") {
    Dataset d = small_set(103);
    DataLoaderOptions o;
    o.batch_size = 10;
    o.seed = 5;
    DataLoader loader(d, o);
    CHECK(loader.size() == 103);
    CHECK(loader.batches_per_epoch() == 11);
    std::vector<Batch> batches = epoch_batches(loader, 0);
    REQUIRE(batches.size() == 11);
    CHECK(batches.back().x.shape() == Shape{3, 1, 5, 4});
    CHECK(batches.back().y.size() == 3);

    std::vector<int> order = epoch_order(loader, 0), sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> iota(103);
    std::iota(iota.begin(), iota.end(), 0);
    CHECK(sorted == iota);  // a permutation
    CHECK(order != iota);   // and shuffled
    CHECK(epoch_order(loader, 1) != order);
    DataLoader again(d, o);
    CHECK(epoch_order(again, 0) == order);  // same seed, same order
    CHECK(epoch_order(again, 1) == epoch_order(loader, 1));
    o.seed = 6;
    DataLoader other(d, o);
    CHECK(epoch_order(other, 0) != order);

    o.shuffle = false;
    o.drop_last = true;
    DataLoader plain(d, o);
    CHECK(plain.batches_per_epoch() == 10);
    CHECK(epoch_order(plain, 3) == std::vector<int>(iota.begin(), iota.begin() + 100));
}

TEST_CASE("data: a subset loader serves exactly its indices, labels match") {
    Dataset d = small_set(50);
    Split s = split_train_val(50, 12, 1);
    DataLoaderOptions o;
    o.batch_size = 8;
    DataLoader val(d, s.val, o);
    std::vector<int> seen;
    for (const Batch& b : epoch_batches(val, 0))
        for (size_t i = 0; i < b.y.size(); ++i) {
            seen.push_back(b.indices[i]);
            CHECK(b.y[i] == d.labels[b.indices[i]]);
        }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == s.val);
}

TEST_CASE("data: normalisation statistics match a direct computation") {
    Dataset d = small_set(40, 3);
    std::vector<int> some = {1, 4, 9, 16, 25, 36};
    Normalization n = compute_normalization(d, some);
    REQUIRE(n.mean.size() == 3);
    const size_t plane = size_t(d.height) * d.width;
    for (int c = 0; c < 3; ++c) {
        double s = 0, q = 0;
        for (int i : some)
            for (size_t k = 0; k < plane; ++k) {
                double v = d.image(i)[c * plane + k] / 255.0;
                s += v;
                q += v * v;
            }
        double count = double(some.size() * plane);
        double mean = s / count, sd = std::sqrt(q / count - mean * mean);
        CHECK(n.mean[c] == doctest::Approx(mean).epsilon(1e-6));
        CHECK(n.std[c] == doctest::Approx(sd).epsilon(1e-6));
    }
    // Batches of the same examples normalised with these numbers: mean 0, std 1 per channel.
    DataLoaderOptions o;
    o.batch_size = int(some.size());
    o.norm = n;
    DataLoader loader(d, some, o);
    loader.start_epoch(0);
    const Batch* b = loader.next();
    REQUIRE(b);
    for (int c = 0; c < 3; ++c) {
        double s = 0, q = 0;
        for (int i = 0; i < b->x.dim(0); ++i)
            for (size_t k = 0; k < plane; ++k) {
                double v = b->x[(size_t(i) * 3 + c) * plane + k];
                s += v;
                q += v * v;
            }
        double count = double(some.size() * plane);
        CHECK(s / count == doctest::Approx(0.0).epsilon(1e-5).scale(1));
        CHECK(q / count == doctest::Approx(1.0).epsilon(1e-5));
    }
    // Constant images: std 1 instead of a division by zero.
    Dataset flat = small_set(2);
    std::fill(flat.images.begin(), flat.images.end(), uint8_t(51));
    Normalization f = compute_normalization(flat);
    CHECK(f.mean[0] == doctest::Approx(0.2));
    CHECK(f.std[0] == 1.0f);
}

TEST_CASE("data: augmentation keeps shapes, is seeded, and is a crop and flip of the image") {
    Dataset d = small_set(30, 2);
    DataLoaderOptions o;
    o.batch_size = 7;
    o.augment.crop_padding = 2;
    o.augment.horizontal_flip = true;
    o.seed = 3;
    DataLoader a(d, o), b(d, o);
    std::vector<Batch> ea = epoch_batches(a, 0);
    CHECK(same_batches(ea, epoch_batches(b, 0)));  // seeded
    CHECK(!same_batches(ea, epoch_batches(b, 1)));
    CHECK(ea[0].x.shape() == Shape{7, 2, 5, 4});

    // Each example equals the image shifted by some (dy, dx) in [-2, 2] and
    // maybe mirrored, with black padding; pixels / 255 without normalisation.
    const int H = 5, W = 4, C = 2;
    std::set<std::pair<int, int>> shifts;
    int flips = 0, total = 0;
    for (const Batch& batch : ea)
        for (int i = 0; i < batch.x.dim(0); ++i) {
            const uint8_t* img = d.image(batch.indices[i]);
            const float* x = batch.x.data() + size_t(i) * C * H * W;
            bool found = false;
            for (int dy = -2; dy <= 2 && !found; ++dy)
                for (int dx = -2; dx <= 2 && !found; ++dx)
                    for (int flip = 0; flip < 2 && !found; ++flip) {
                        bool match = true;
                        for (int c = 0; c < C && match; ++c)
                            for (int y = 0; y < H && match; ++y)
                                for (int xx = 0; xx < W && match; ++xx) {
                                    int sy = y + dy, sx = (flip ? W - 1 - xx : xx) + dx;
                                    bool in = sy >= 0 && sy < H && sx >= 0 && sx < W;
                                    float want = in ? img[(c * H + sy) * W + sx] / 255.0f : 0.0f;
                                    match = x[(c * H + y) * W + xx] == want;
                                }
                        if (match) {
                            found = true;
                            shifts.insert({dy, dx});
                            flips += flip;
                        }
                    }
            CHECK(found);
            ++total;
        }
    CHECK(shifts.size() > 5);  // many different crops were drawn
    CHECK(flips > 0);
    CHECK(flips < total);
}

TEST_CASE("data: background and foreground loaders give the same batches; buffers are reused") {
    Dataset d = small_set(200, 3);
    DataLoaderOptions o;
    o.batch_size = 16;
    o.seed = 11;
    o.norm = compute_normalization(d);
    o.augment.crop_padding = 1;
    o.augment.horizontal_flip = true;
    DataLoader bg(d, o);
    o.background = false;
    DataLoader fg(d, o);
    for (int e = 0; e < 3; ++e) CHECK(same_batches(epoch_batches(bg, e), epoch_batches(fg, e)));
    CHECK(bg.wait_seconds() >= 0.0);

    // After the first epoch, batches live in the same two buffers.
    std::set<const float*> buffers;
    bg.start_epoch(5);
    while (const Batch* b = bg.next()) buffers.insert(b->x.data());
    bg.start_epoch(6);
    while (const Batch* b = bg.next()) buffers.insert(b->x.data());
    CHECK(buffers.size() <= 2);
}

TEST_CASE("data: restarting an epoch midway, and next() before start_epoch") {
    Dataset d = small_set(64);
    DataLoaderOptions o;
    o.batch_size = 8;
    DataLoader loader(d, o);
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("call start_epoch"), std::logic_error);
    loader.start_epoch(2);
    std::vector<int> first = loader.next()->indices;
    loader.next();
    loader.start_epoch(2);
    CHECK(loader.next()->indices == first);
    loader.start_epoch(3);  // abandon with the worker mid-way; the destructor must still join
}

TEST_CASE("data: an error while making a batch reaches the consumer at that batch") {
    Dataset d = small_set(40);
    DataLoaderOptions o;
    o.batch_size = 10;
    o.shuffle = false;
    for (bool background : {true, false}) {
        CAPTURE(background);
        o.background = background;
        DataLoader loader(d, o);
        d.labels[25] = 99;  // damage the data set behind the loader's back
        loader.start_epoch(0);
        CHECK(loader.next() != nullptr);
        CHECK(loader.next() != nullptr);
        CHECK_THROWS_WITH_AS(loader.next(),
                             doctest::Contains("label 99 of example 25 is outside the class range [0, 3)"),
                             std::invalid_argument);
        d.labels[25] = 1;
        loader.start_epoch(1);  // the loader recovers once the data is fixed
        int batches = 0;
        while (loader.next()) ++batches;
        CHECK(batches == 4);
    }
}

TEST_CASE("data: DataLoader rejects bad options") {
    Dataset d = small_set(20);
    DataLoaderOptions o;
    o.batch_size = 0;
    CHECK_THROWS_WITH_AS(DataLoader(d, o), doctest::Contains("batch size 0, expected >= 1"),
                         std::invalid_argument);
    o.batch_size = 32;
    o.drop_last = true;
    CHECK_THROWS_WITH_AS(DataLoader(d, o), doctest::Contains("drop_last with 20 examples and batch size 32"),
                         std::invalid_argument);
    o.drop_last = false;
    CHECK_THROWS_WITH_AS(DataLoader(d, std::vector<int>{}, o), doctest::Contains("no examples"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(DataLoader(d, std::vector<int>{3, 20}, o),
                         doctest::Contains("example index 20 is outside the data set [0, 20)"),
                         std::invalid_argument);
    o.norm.mean = {0.5f, 0.5f};
    o.norm.std = {0.2f, 0.2f};
    CHECK_THROWS_WITH_AS(DataLoader(d, o), doctest::Contains("2 means and 2 stds for 1 channels"),
                         std::invalid_argument);
    o.norm.mean = {0.5f};
    o.norm.std = {0.0f};
    CHECK_THROWS_WITH_AS(DataLoader(d, o), doctest::Contains("std of channel 0 is 0"),
                         std::invalid_argument);
    o.norm = Normalization{};
    o.augment.crop_padding = -1;
    CHECK_THROWS_AS(DataLoader(d, o), std::invalid_argument);
}
