// build/train as a function: its command line and main, in the training part
// (build/libdl_train.a). apps/train.cpp is `return dl::train_main(argc, argv);`.
//
// Every optimizer and schedule option of the command line comes from the
// registry (optim/registry.h): its flag, help, default and range, which
// algorithm or schedule takes it, whether it needs per-example statistics, the
// seed and batch size the trainer fills in. So a program that registers an
// algorithm of its own and then calls train_main gets a build/train that trains,
// saves, resumes and lists it in --help, with no library file changed:
//
//   int main(int argc, char** argv) {
//       dl::register_optimizer(dl::OptimizerEntry::of<SignSGD>("sign-sgd", "Phi -= eta sign(g)", sign_sgd_options()));
//       return dl::train_main(argc, argv);   // build/mytrain --optimizer sign-sgd --lr 0.001
//   }
//
// (tests/test_extend.cpp does this in the test process.) train_main may run more
// than once in a process: it puts back the thread count and signal handlers it
// found, and returns its exit status rather than exiting (except when a rank of
// an MPI job fails, which must stop the others).
#pragma once

namespace dl {

// Parses argv as build/train does, trains, and returns the exit status: 0 done,
// 1 an error (one line on stderr), 130 interrupted (Ctrl-C or --max-steps, with a
// resumable checkpoint), or CLI11's status for --help and a malformed command line.
int train_main(int argc, char** argv);

}  // namespace dl
