// Counts heap allocations: tests/test_alloc.cpp replaces the global operator
// new for the test program, and tests read the counter before and after a step.
#pragma once
#include <atomic>
#include <cstddef>

namespace dl::testing {
extern std::atomic<long> heap_allocations;
}
