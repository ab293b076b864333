// Data-parallel training with MPI on loopback: two ranks with a global batch
// give the parameters of one process with the same batch (up to float
// summation order), checkpoints move between the two modes, and a dying rank
// ends the job instead of hanging it.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/checkpoint.h"
#include "tests/run_program.h"

using dl::testing::ProgramResult;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

const std::string kMpirun =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun --oversubscribe -np 2 ";

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// Largest relative difference ||u - v|| / ||v|| over the tensors of two checkpoints.
double max_relative_difference(const std::string& a, const std::string& b) {
    dl::Checkpoint x = dl::read_checkpoint(a), y = dl::read_checkpoint(b);
    REQUIRE(x.tensors.size() == y.tensors.size());
    double worst = 0.0;
    for (size_t k = 0; k < x.tensors.size(); ++k) {
        const dl::Tensor& u = x.tensors[k].second;
        const dl::Tensor& v = y.tensors[k].second;
        REQUIRE(u.shape() == v.shape());
        double diff = 0.0, norm = 0.0;
        for (size_t i = 0; i < v.size(); ++i) {
            diff += (double(u[i]) - v[i]) * (double(u[i]) - v[i]);
            norm += double(v[i]) * v[i];
        }
        worst = std::max(worst, std::sqrt(diff / std::max(norm, 1e-30)));
    }
    return worst;
}

}  // namespace

TEST_CASE("mpi: 2 ranks give the parameters of 1 process with the same global batch") {
    REQUIRE_MESSAGE(have_mpirun(), "mpirun is missing: run make deps (openmpi-bin, libopenmpi-dev)");
    TempDir tmp;
    for (const char* opt : {"sgd --lr 0.05", "adam", "rmsprop-per-example --lr 0.001"}) {
        const std::string args = std::string(" --model mlp --limit 1000 --epochs 2 --batch-size 50 --threads 1 --optimizer ") +
                                 opt + " --out ";
        ProgramResult one = run_program("build/train" + args + tmp.str() + "/one", tmp.str());
        ProgramResult two = run_program(kMpirun + "build/train" + args + tmp.str() + "/two", tmp.str());
        INFO(opt << "\n" << one.err << "\n" << two.err);
        REQUIRE(one.status == 0);
        REQUIRE(two.status == 0);
        CHECK(two.err.find("2 ranks") != std::string::npos);
        CHECK(max_relative_difference(tmp.str() + "/two/model.ckpt", tmp.str() + "/one/model.ckpt") < 1e-5);
    }
}

TEST_CASE("mpi: a checkpoint of rank 0 resumes in one process, and one of one process resumes on 2 ranks") {
    REQUIRE(have_mpirun());
    TempDir tmp;
    const std::string args = " --model mlp --limit 1000 --batch-size 50 --threads 1 --optimizer adam --out ";
    const std::string a = tmp.str() + "/a", b = tmp.str() + "/b", c = tmp.str() + "/c";
    REQUIRE(run_program("build/train --epochs 2" + args + a, tmp.str()).status == 0);
    REQUIRE(run_program(kMpirun + "build/train --epochs 1" + args + b, tmp.str()).status == 0);
    REQUIRE(run_program("build/train --resume " + b + "/model.ckpt --epochs 2", tmp.str()).status == 0);
    REQUIRE(run_program("build/train --epochs 1" + args + c, tmp.str()).status == 0);
    REQUIRE(run_program(kMpirun + "build/train --resume " + c + "/model.ckpt --epochs 2", tmp.str()).status == 0);
    CHECK(max_relative_difference(b + "/model.ckpt", a + "/model.ckpt") < 1e-5);
    CHECK(max_relative_difference(c + "/model.ckpt", a + "/model.ckpt") < 1e-5);
}

TEST_CASE("mpi: a rank that dies ends the job with a message instead of a hang") {
    REQUIRE(have_mpirun());
    TempDir tmp;
    const std::string marker = tmp.str() + "/dying";
    ProgramResult r = run_program("(" + kMpirun + "build/train --model mlp --epochs 1000 --threads 1 --out " + marker +
                                      " & for i in $(seq 100); do [ $(pgrep -c -f '^build/train .*out " + marker + "') -ge 2 ] && break; "
                                      "sleep 0.3; done; sleep 1; pkill -9 -n -f '^build/train .*out " + marker + "'; wait $!)",
                                  tmp.str());
    CHECK(r.status != 0);
    CHECK(r.status != 124);  // not ended by the timeout
    CHECK(r.err.find("signal 9") != std::string::npos);  // mpirun names the rank that was killed
}
