#include "core/fast/float_mode.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace dl {
namespace {

// MXCSR: bit 15 flush-to-zero, bit 6 denormals-are-zero. FPCR: bit 24 flush-to-zero
// (AArch64 has no separate input flag: FZ covers inputs and outputs).
#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFlushBits = 0x8000u | 0x0040u;
void set_thread_mode(bool on) {
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | kFlushBits) : (csr & ~kFlushBits));
}
bool thread_mode() { return (_mm_getcsr() & kFlushBits) == kFlushBits; }
#elif defined(__aarch64__)
constexpr unsigned long kFlushBits = 1ul << 24;
void set_thread_mode(bool on) {
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | kFlushBits) : (fpcr & ~kFlushBits);
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
bool thread_mode() {
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr & kFlushBits) != 0;
}
#else
void set_thread_mode(bool) {}  // no known control register: IEEE behaviour
bool thread_mode() { return false; }
#endif

bool choice_from_environment() {
    const char* v = std::getenv("DL_DENORMALS");
    return !(v && std::strcmp(v, "keep") == 0);
}

std::atomic<bool>& choice() {
    static std::atomic<bool> flush{choice_from_environment()};
    return flush;
}

}  // namespace

bool flush_denormals() { return choice().load(); }

void set_flush_denormals(bool on) {
    choice().store(on);
    apply_float_mode();
#pragma omp parallel num_threads(omp_get_max_threads())
    apply_float_mode();
}

void apply_float_mode() { set_thread_mode(choice().load()); }

bool thread_flushes_denormals() { return thread_mode(); }

}  // namespace dl
