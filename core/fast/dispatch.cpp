// Target names and the DL_SIMD cap over Highway's runtime dispatch (see dispatch.h).
#include "core/fast/simd_targets.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/fast/dispatch.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace dl::fast::HWY_NAMESPACE {

// The target this copy was compiled for: the dispatcher calls the copy it picked.
int64_t CompiledTarget() { return HWY_TARGET; }

}  // namespace dl::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "core/fast/dispatch.h"

namespace dl::fast {

HWY_EXPORT(CompiledTarget);

namespace {

struct Named {
    const char* name;
    int64_t bit;
};

// Highway's targets under our names, best first. Lower bits are better targets.
const std::vector<Named>& known_targets() {
    static const std::vector<Named> all = {
#if HWY_ARCH_X86
        {"avx512", HWY_AVX3},
        {"avx2", HWY_AVX2},
#elif HWY_ARCH_ARM
        {"neon", HWY_NEON},
#endif
        {"scalar", HWY_SCALAR | HWY_EMU128},
    };
    return all;
}

std::string choices() {
    std::string s;
    for (const Named& t : known_targets()) s += (s.empty() ? "" : ", ") + std::string(t.name);
    return s;
}

// The CPU's targets among those compiled, read before any cap is applied.
int64_t cpu_targets() {
    static const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
    return targets;
}

void apply_cap(const std::string& name) {
    cpu_targets();  // read the CPU before disabling anything
    if (name.empty()) {
        hwy::DisableTargets(0);
        return;
    }
    for (const Named& t : known_targets())
        if (name == t.name) {
            // Disable every target better (a lower bit) than the cap.
            const int64_t lowest = t.bit & -t.bit;
            hwy::DisableTargets(lowest - 1);
            return;
        }
    throw std::invalid_argument("DL_SIMD: '" + name + "' is not an instruction set of this build (expected one of " +
                                choices() + ", or unset for the best this CPU has)");
}

}  // namespace

void simd_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char* env = std::getenv("DL_SIMD");
        apply_cap(env ? env : "");
    });
}

void set_simd_cap(const std::string& name) {
    simd_init();
    apply_cap(name);
}

std::string simd_target() {
    simd_init();
    const int64_t target = HWY_DYNAMIC_DISPATCH(CompiledTarget)();
    for (const Named& t : known_targets())
        if (target & t.bit) return t.name;
    return hwy::TargetName(target);
}

std::vector<std::string> simd_targets() {
    std::vector<std::string> out;
    for (const Named& t : known_targets())
        if (cpu_targets() & t.bit || t.bit & (HWY_SCALAR | HWY_EMU128)) out.push_back(t.name);
    return out;
}

}  // namespace dl::fast
#endif  // HWY_ONCE
