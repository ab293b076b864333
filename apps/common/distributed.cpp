#include "apps/common/distributed.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#ifdef DL_WITH_MPI
#include <mpi.h>
#endif

namespace dl {

namespace {

// Open MPI, MPICH and Slurm set these in the processes they start.
bool launched_by_mpi() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(v)) return true;
    return false;
}

}  // namespace

bool Distributed::compiled_with_mpi() {
#ifdef DL_WITH_MPI
    return true;
#else
    return false;
#endif
}

Distributed::Distributed(int* argc, char*** argv) {
    (void)argc;
    (void)argv;
#ifdef DL_WITH_MPI
    if (!launched_by_mpi()) return;
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    initialised_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
    if (launched_by_mpi())
        std::fprintf(stderr, "warning: started by mpirun, but this build has no MPI "
                             "(install libopenmpi-dev and rebuild); running as one process\n");
#endif
}

Distributed::~Distributed() {
#ifdef DL_WITH_MPI
    if (initialised_) MPI_Finalize();
#endif
}

namespace {

#ifdef DL_WITH_MPI
MPI_Datatype mpi_type(const float*) { return MPI_FLOAT; }
MPI_Datatype mpi_type(const double*) { return MPI_DOUBLE; }
#endif

}  // namespace

template <class T>
void Distributed::allreduce(T* x, size_t n) {
    if (!active()) return;
#ifdef DL_WITH_MPI
    const auto t0 = std::chrono::steady_clock::now();
    MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(n), mpi_type(x), MPI_SUM, MPI_COMM_WORLD);
    comm_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#else
    (void)x;
    (void)n;
#endif
}

void Distributed::allreduce_sum(float* x, size_t n) { allreduce(x, n); }
void Distributed::allreduce_sum(double* x, size_t n) { allreduce(x, n); }

void Distributed::abort(const std::string& message) {
    std::fprintf(stderr, "%s%s\n", active() ? ("rank " + std::to_string(rank_) + ": ").c_str() : "",
                 message.c_str());
    std::fflush(stderr);
#ifdef DL_WITH_MPI
    if (initialised_ && active()) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    std::exit(1);
}

void Distributed::shard(int n, int& begin, int& end) const {
    const int base = n / size_, extra = n % size_;
    begin = rank_ * base + (rank_ < extra ? rank_ : extra);
    end = begin + base + (rank_ < extra ? 1 : 0);
}

}  // namespace dl
