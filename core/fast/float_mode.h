// Denormal (subnormal) floats: flushed to zero in every thread that computes.
//
// A float below about 1.2e-38 in magnitude is "denormal": IEEE arithmetic keeps
// it with fewer bits of precision, and most CPUs handle it in microcode, many
// times slower than a normal float. Training produces such values by itself:
// Adam's and RMSProp's running averages of g^2 decay towards 1e-40, and so do
// some weights' gradients after a few epochs. Measured here, `build/train
// --model cnn --optimizer adam` lost 10-40% of its speed from the second epoch
// on (more on Intel cores than on this AMD one).
//
// So by default the library sets the processor's flush-to-zero mode (results
// that would be denormal become 0) and denormals-are-zero mode (denormal inputs
// are read as 0), as TensorFlow and oneDNN do: on x86 the FTZ and DAZ bits of
// MXCSR, on ARM the FZ bit of FPCR. It is set once when the library starts, in
// the main thread; threads started later inherit it (Linux copies the
// floating-point control register into a new thread), and the OpenMP pool and
// the data loader's worker set it again explicitly when they start.
//
// Whoever needs IEEE denormals (say, to study arithmetic near the underflow
// threshold) sets DL_DENORMALS=keep in the environment, or calls
// set_flush_denormals(false) before starting threads.
#pragma once

namespace dl {

// The process-wide choice: true = flush (the default), false = keep IEEE denormals.
bool flush_denormals();
// Changes the process-wide choice and applies it to the calling thread and to
// every thread of the OpenMP pool. Threads created afterwards inherit it.
void set_flush_denormals(bool on);
// Applies the process-wide choice to the calling thread. Every thread the
// library starts calls it first.
void apply_float_mode();
// Whether the calling thread really flushes denormals (reads the control
// register): for tests and for programs that report their setting.
bool thread_flushes_denormals();

}  // namespace dl
