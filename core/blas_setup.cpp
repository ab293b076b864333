#include "core/blas_setup.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace dl {
namespace {

// The program's arguments, as the kernel has them: main() has not run yet.
std::vector<std::string> command_line() {
    std::vector<std::string> args;
    FILE* f = std::fopen("/proc/self/cmdline", "rb");
    if (!f) return args;
    std::string arg;
    for (int c; (c = std::fgetc(f)) != EOF;) {
        if (c == '\0') args.push_back(arg), arg.clear();
        else arg.push_back(static_cast<char>(c));
    }
    std::fclose(f);
    return args;
}

}  // namespace

const char* blas_kernels() { return openblas_get_corename(); }

void choose_blas_kernels_at_start() {
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    if (strcasecmp(openblas_get_corename(), "Prescott") != 0) return;  // detection worked
    const char* pick = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2")    ? "Haswell"
                                                         : nullptr;
    if (!pick) return;
    std::vector<std::string> args = command_line();
    if (args.empty()) return;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    setenv("OPENBLAS_CORETYPE", pick, 1);
    execv("/proc/self/exe", argv.data());  // on failure, go on with the slower kernels
}

}  // namespace dl
