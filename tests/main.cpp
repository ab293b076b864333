// The one main of the test suite: doctest collects the cases of every tests/test_*.cpp.
// The tests run on the same BLAS kernels as the programs: the library picks them
// before main() (core/blas_setup.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    return context.run();
}
