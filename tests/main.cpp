// The one main of the test suite: doctest collects the cases of every tests/test_*.cpp.
// The tests run on the same BLAS kernels as the programs (see apps/common/blas_setup.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "apps/common/blas_setup.h"

int main(int argc, char** argv) {
    dl::choose_blas_kernels(argv);
    doctest::Context context(argc, argv);
    return context.run();
}
