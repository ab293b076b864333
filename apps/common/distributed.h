// Data-parallel training across processes: a thin layer over MPI.
//
// Started by `mpirun -np P`, every rank holds the whole model and data set,
// takes a disjoint shard of each global batch, and sums its gradients with
// the others' in one MPI_Allreduce per step; every rank then applies the same
// update, so the parameters stay identical. Started without mpirun (or built
// without MPI), it is a single process and every call is a no-op.
#pragma once
#include <string>
#include <vector>

namespace dl {

class Distributed {
public:
    // Initialises MPI only when the process was started by an MPI launcher.
    Distributed(int* argc, char*** argv);
    ~Distributed();
    Distributed(const Distributed&) = delete;
    Distributed& operator=(const Distributed&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool is_root() const { return rank_ == 0; }
    bool active() const { return size_ > 1; }
    static bool compiled_with_mpi();

    // In place: x[i] = sum over ranks of x[i]. Seconds spent are added to comm_seconds().
    void allreduce_sum(float* x, size_t n);
    void allreduce_sum(double* x, size_t n);
    double comm_seconds() const { return comm_seconds_; }
    // Ends the whole job with a message (one rank failed: the others must not hang).
    [[noreturn]] void abort(const std::string& message);

    // The shard [begin, end) of a global batch of n examples for this rank:
    // split as evenly as possible, the first n % size ranks take one more.
    void shard(int n, int& begin, int& end) const;

private:
    template <class T>
    void allreduce(T* x, size_t n);

    int rank_ = 0, size_ = 1;
    bool initialised_ = false;
    double comm_seconds_ = 0.0;
};

}  // namespace dl
