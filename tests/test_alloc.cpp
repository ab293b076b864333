// A training step in steady state performs no heap allocation: the tape reuses
// its nodes and buffers. Checked by counting calls of the global operator new.
#include <doctest/doctest.h>

#include <cstdlib>
#include <new>

#include "core/core.h"
#include "tests/alloc_counter.h"
#include "tests/gradcheck.h"

namespace dl::testing {
std::atomic<long> heap_allocations{0};
std::atomic<std::size_t> largest_allocation{0};
}

void* operator new(std::size_t n) {
    dl::testing::heap_allocations.fetch_add(1, std::memory_order_relaxed);
    std::size_t seen = dl::testing::largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !dl::testing::largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {}
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace dl;

namespace {

// One step of a two-layer MLP on core ops, with or without statistics.
void mlp_step(Tape& tape, Parameter& w1, Parameter& w2, const Tensor& x, const std::vector<int>& y) {
    tape.reset();
    w1.zero_grad();
    w2.zero_grad();
    Var h = relu(tape, linear(tape, tape.input(x), w1, nullptr));
    tape.backward(softmax_cross_entropy(tape, linear(tape, h, w2, nullptr), y));
    for (Parameter* p : {&w1, &w2})
        for (size_t i = 0; i < p->size(); ++i) p->value[i] -= 0.01f * p->grad[i];
}

}  // namespace

TEST_CASE("a steady-state training step allocates nothing (core ops, with and without statistics)") {
    Parameter w1("w1", Shape{32, 20}), w2("w2", Shape{4, 32});
    w1.value = testing::random_tensor(w1.value.shape(), 1);
    w2.value = testing::random_tensor(w2.value.shape(), 2);
    const Tensor x = testing::random_tensor(Shape{16, 20}, 3);
    std::vector<int> y(16);
    for (int i = 0; i < 16; ++i) y[i] = i % 4;
    for (bool stats : {false, true}) {
        Tape tape;
        tape.set_statistics(stats);
        mlp_step(tape, w1, w2, x, y);  // first step: buffers are made
        mlp_step(tape, w1, w2, x, y);
        const long before = testing::heap_allocations.load();
        for (int i = 0; i < 5; ++i) mlp_step(tape, w1, w2, x, y);
        const long after = testing::heap_allocations.load();
        INFO("statistics " << stats);
        CHECK(after - before == 0);
    }
}

TEST_CASE("the allocation counter counts") {
    const long before = testing::heap_allocations.load();
    auto* v = new std::vector<float>(100);
    const long after = testing::heap_allocations.load();
    delete v;
    CHECK(after - before >= 2);
}

#include "layers/models.h"
#include "optim/registry.h"

TEST_CASE("a steady-state training step of mlp, cnn and cnn-bn with an optimizer allocates nothing") {
    for (const char* name : {"mlp", "cnn", "cnn-bn"})
        for (bool stats : {false, true}) {
            if (stats && std::string(name) == "cnn-bn") continue;  // batch norm refuses statistics
            auto model = make_model(name, 1, 28, 28, 10, 7);
            auto opt = make_optimizer(stats ? "rmsprop-per-example" : "adam", model->parameters());
            const Tensor x = testing::random_tensor(Shape{8, 1, 28, 28}, 8);
            std::vector<int> y{0, 1, 2, 3, 4, 5, 6, 7};
            Tape tape;
            tape.set_statistics(stats);
            auto step = [&] {
                tape.reset();
                opt->zero_grad();
                tape.backward(softmax_cross_entropy(tape, model->forward(tape, tape.input(x)), y));
                opt->step();
            };
            step();
            step();
            const long before = testing::heap_allocations.load();
            for (int i = 0; i < 3; ++i) step();
            const long after = testing::heap_allocations.load();
            INFO(std::string(name) << " statistics " << stats);
            CHECK(after - before == 0);
        }
}
