#!/usr/bin/python3
"""Runs the training steps of build/bench in PyTorch and prints the speed ratios.

    /usr/bin/python3 apps/compare_pytorch.py            # both sides, interleaved rounds
    /usr/bin/python3 apps/compare_pytorch.py --simd avx2 # both sides limited to AVX2
    /usr/bin/python3 apps/compare_pytorch.py --cases cnn_train_step,conv_3x3_64to128_7x7
    /usr/bin/python3 apps/compare_pytorch.py --torch-only

Same architectures (mlp 784-256-128-10, cnn of layers/models), same batch sizes
(mlp 128, cnn 64), random data, SGD, 2 threads. Each side reports the median
ms per step after warm-up; the machine is noisy, so in each round every case
runs on both sides back to back, the ratio is taken per pair, and the median
over the rounds is quoted.
Needs PyTorch (Debian: apt-get install python3-torch).

Both sides use the system OpenBLAS, whose CPU detection (0.3.21) falls back to
its slow Prescott kernels on recent Intel cores. OpenBLAS reads
OPENBLAS_CORETYPE once, when it loads, so this script sets it (unless it is set
already: --blas-coretype auto picks SkylakeX with AVX-512, Haswell with AVX2)
and re-executes itself before importing torch; build/bench inherits it. Both
sides then run the same kernels, and the script prints which.

On a busy machine (more runnable threads than cores) OpenMP's default
spin-waiting makes every parallel region wait for a descheduled thread: both
sides then run several times slower (seen here: PyTorch's cnn step 312 ms
instead of 28 ms) and the ratios mean little. The script warns when the load
average is high; --omp-wait-policy passive sets OMP_WAIT_POLICY for both sides.

--simd avx2 (or avx512) runs both sides at one instruction set: ours through
DL_SIMD, PyTorch's own kernels through ATEN_CPU_CAPABILITY and its oneDNN
(which runs its convolutions) through DNNL_MAX_CPU_ISA, and OpenBLAS through
OPENBLAS_CORETYPE (Haswell, SkylakeX) for both, overriding a value already set.
Besides the training steps, the cases include user-sized convolution layers
(forward and backward, batch 64), named as in build/bench.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def option(argv, name, default=None):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


# --simd: for each instruction set, the variables that hold both sides to it.
SIMD_ENV = {
    "avx2": {"DL_SIMD": "avx2", "ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"},
    "avx512": {"DL_SIMD": "avx512", "ATEN_CPU_CAPABILITY": "avx512", "DNNL_MAX_CPU_ISA": "AVX512_CORE",
               "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "OPENBLAS_CORETYPE": "SkylakeX"},
}


def prepare_environment(argv):
    """Sets OPENBLAS_CORETYPE (and OMP_WAIT_POLICY when asked, and the --simd
    variables) for both sides.

    All are read when the libraries load, so the script re-executes itself
    once, before torch is imported; build/bench inherits the environment."""
    changed = False
    simd = option(argv, "--simd")
    if simd in SIMD_ENV:
        for name, value in SIMD_ENV[simd].items():
            if os.environ.get(name) != value:
                os.environ[name] = value
                changed = True
    choice = option(argv, "--blas-coretype", "auto")
    if "OPENBLAS_CORETYPE" not in os.environ and choice != "none":
        if choice == "auto":
            flags = cpu_flags()
            choice = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
        if choice:
            os.environ["OPENBLAS_CORETYPE"] = choice
            changed = True
    policy = option(argv, "--omp-wait-policy")
    if policy and os.environ.get("OMP_WAIT_POLICY") != policy:
        os.environ["OMP_WAIT_POLICY"] = policy
        changed = True
    if changed:
        os.execv(sys.executable, [sys.executable] + argv)


def torch_blas_kernels():
    """The kernels of the OpenBLAS that torch loaded (read from the library itself)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "openblas" in line and line.strip().endswith(".so")}
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "unknown (torch does not use OpenBLAS?)"


prepare_environment(sys.argv)

try:
    import torch
    import torch.nn as nn
except ImportError:
    sys.exit("compare_pytorch: PyTorch is not installed (apt-get install python3-torch)")


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))


def time_steps(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def train_step_fn(model, batch):
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def inference_fn(model, batch):
    x = torch.randn(batch, 1, 28, 28)

    def step():
        with torch.no_grad():
            model(x)
    return step


def conv_layer_fn(batch, channels, size, out_channels, kernel, stride):
    """One convolution layer forward and backward (dx, dW, db), as build/bench's conv_* cases."""
    x = torch.randn(batch, channels, size, size, requires_grad=True)
    conv = nn.Conv2d(channels, out_channels, kernel, stride=stride, padding=kernel // 2)

    def step():
        conv.zero_grad()
        x.grad = None
        conv(x).sum().backward()
    return step


# The user-sized convolution layers of build/bench: name, channels, size, out channels, kernel, stride.
CONV_LAYERS = [("conv_5x5_32to64_14x14", 32, 14, 64, 5, 1),
               ("conv_3x3_64to128_7x7", 64, 7, 128, 3, 1),
               ("conv_3x3s2_64to128_14x14", 64, 14, 128, 3, 2),
               ("conv_5x5_1to32_28x28", 1, 28, 32, 5, 1),
               ("conv_3x3_32to64_14x14", 32, 14, 64, 3, 1)]


def torch_cases(only):
    """(name, batch, step) for each case: the models are built once, for every round."""
    torch.manual_seed(0)
    cases = [("mlp_train_step", 128, lambda: train_step_fn(mlp(), 128)),
             ("cnn_train_step", 64, lambda: train_step_fn(cnn(), 64)),
             ("cnn_inference", 1000, lambda: inference_fn(cnn().eval(), 1000))]
    cases += [(name, 64, (lambda a=args: conv_layer_fn(64, *a))) for name, *args in CONV_LAYERS]
    unknown = set(only) - {name for name, _, _ in cases}
    if unknown:
        sys.exit(f"compare_pytorch: unknown case(s) {', '.join(sorted(unknown))}; "
                 f"the cases: {', '.join(name for name, _, _ in cases)}")
    return [(name, batch, make()) for name, batch, make in cases if not only or name in only]


def torch_capability():
    """The instruction set of PyTorch's own kernels, from its build summary."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def torch_case(name, batch, fn, warmup, repeats):
    ms = time_steps(fn, warmup, repeats)
    return {"name": name, "batch": batch, "threads": torch.get_num_threads(),
            "ms_per_step": round(ms, 3), "examples_per_s": round(batch * 1e3 / ms, 1)}


def ours_case(bench, threads, name):
    """build/bench's rows for one case (and its statistics variant for a training step)."""
    only = name + "," + name + "_stats" if name.endswith("_train_step") else name
    run = subprocess.run([bench, "--threads", str(threads), "--only", only],
                         capture_output=True, text=True, check=True)
    return {row["name"]: row for row in map(json.loads, filter(lambda l: l.startswith("{"), run.stdout.splitlines()))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--bench", default="build/bench")
    ap.add_argument("--torch-only", action="store_true")
    ap.add_argument("--blas-coretype", default="auto",
                    help="OPENBLAS_CORETYPE for both sides when it is not set: auto, none or a name (SkylakeX)")
    ap.add_argument("--omp-wait-policy", choices=["active", "passive"],
                    help="set OMP_WAIT_POLICY for both sides (default: inherited)")
    ap.add_argument("--simd", choices=sorted(SIMD_ENV),
                    help="run both sides at this instruction set (default: each side's best)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; PyTorch {torch.__version__} "
          f"runs OpenBLAS kernels {torch_blas_kernels()} on {torch.get_num_threads()} threads; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}", flush=True)
    print(f"instruction sets: ours DL_SIMD={os.environ.get('DL_SIMD', '(unset: the best)')}; PyTorch's kernels "
          f"{torch_capability()}, its oneDNN DNNL_MAX_CPU_ISA={os.environ.get('DNNL_MAX_CPU_ISA', '(unset)')}",
          flush=True)
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load:.1f} on {os.cpu_count()} cores: other jobs are running; with "
              "OpenMP spin-waiting both sides can be several times slower (try --omp-wait-policy passive)",
              flush=True)

    # Each case runs on both sides back to back, so that the two figures of a
    # pair are seconds apart; the machine's speed drifts over a whole round.
    ratios = {}
    cases = torch_cases([c for c in args.cases.split(",") if c])
    for r in range(args.rounds):
        for name, batch, fn in cases:
            theirs = torch_case(name, batch, fn, args.warmup, args.repeats)
            print(json.dumps(dict(theirs, side="pytorch", round=r)), flush=True)
            if args.torch_only:
                continue
            ours = ours_case(args.bench, args.threads, name)
            for row in ours.values():
                print(json.dumps(dict(row, side="ours", round=r)), flush=True)
            ratios.setdefault(name, []).append(theirs["ms_per_step"] / ours[name]["ms_per_step"])
            if name + "_stats" in ours:
                ratios.setdefault(name + "_stats (vs pytorch plain)", []).append(
                    theirs["ms_per_step"] / ours[name + "_stats"]["ms_per_step"])
    for name, rs in ratios.items():
        print(f"{name}: ours is {statistics.median(rs):.2f}x PyTorch's examples/s "
              f"(median of {len(rs)} rounds: {', '.join(f'{x:.2f}' for x in rs)})")


if __name__ == "__main__":
    main()
