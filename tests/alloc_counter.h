// Counts heap allocations: tests/test_alloc.cpp replaces the global operator
// new for the test program, and tests read the counter before and after a step.
// largest_allocation is the largest single request since a test last reset it
// (tests/test_fuzz.cpp bounds what a damaged file can make the readers allocate).
#pragma once
#include <atomic>
#include <cstddef>

namespace dl::testing {
extern std::atomic<long> heap_allocations;
extern std::atomic<std::size_t> largest_allocation;
}
