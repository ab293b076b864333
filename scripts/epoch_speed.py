#!/usr/bin/env python3
"""Does every epoch train as fast as the first? Reads the metrics.csv of finished runs
(build/train's, or every run of a build/study folder) and prints, per run, each later
epoch's examples/s as a ratio to the first epoch's, then a summary.

    python3 scripts/epoch_speed.py runs/study/cnn/runs            # every run below a folder
    python3 scripts/epoch_speed.py runs/a/metrics.csv runs/b       # files or folders
    python3 scripts/epoch_speed.py --csv out.csv runs/study/cnn   # the table as CSV too

A run slowed by denormal floats falls steadily from its second epoch on (28-40% before they
were flushed, see README "Denormal floats are flushed to zero"); a one-epoch dip that
recovers is the machine. Runs with fewer than two epochs are skipped. Standard library only.
"""
import argparse
import csv
import statistics
import sys
from pathlib import Path


def metrics_files(paths):
    for p in map(Path, paths):
        if p.is_file():
            yield p
        elif p.is_dir():
            yield from sorted(p.rglob("metrics.csv"))
        else:
            sys.exit(f"epoch_speed: {p}: no such file or folder")


def epoch_speeds(path):
    """examples/s of each epoch, in order; the last row of an epoch counts (a resumed run repeats one)."""
    with open(path) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    by_epoch = {}
    for r in rows:
        try:
            by_epoch[int(r["epoch"])] = float(r["examples_per_s"])
        except (KeyError, ValueError):
            sys.exit(f"epoch_speed: {path}: not a metrics.csv of build/train (no epoch, examples_per_s)")
    return [by_epoch[e] for e in sorted(by_epoch)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="metrics.csv files or folders to search")
    ap.add_argument("--tolerance", type=float, default=0.05, help="a later epoch below 1 - this counts as slower")
    ap.add_argument("--csv", help="also write run, first epoch's examples/s and every ratio here")
    args = ap.parse_args()

    table = []
    for path in metrics_files(args.paths):
        speeds = epoch_speeds(path)
        if len(speeds) < 2 or speeds[0] <= 0:
            continue
        table.append((str(path.parent), speeds[0], [s / speeds[0] for s in speeds[1:]]))
    if not table:
        sys.exit("epoch_speed: no run with two or more epochs found")

    low = 1 - args.tolerance
    for run, first, ratios in table:
        flag = "  <- below %.2f" % low if min(ratios) < low else ""
        print(f"{run}: {first:,.0f} ex/s, then " + " ".join(f"{r:.3f}" for r in ratios) + flag)
    mins = [min(r) for _, _, r in table]
    lasts = [r[-1] for _, _, r in table]
    slower = sum(m < low for m in mins)
    print(f"\n{len(table)} runs; every later epoch within {args.tolerance:.0%} of the first in "
          f"{len(table) - slower}; slowest later epoch per run: median {statistics.median(mins):.3f}, "
          f"lowest {min(mins):.3f}; last epoch / first: median {statistics.median(lasts):.3f} "
          f"({min(lasts):.3f}-{max(lasts):.3f})")
    if args.csv:
        width = max(len(r) for _, _, r in table)
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["run", "epoch1_examples_per_s"] + [f"epoch{e + 2}_over_epoch1" for e in range(width)])
            for run, first, ratios in table:
                w.writerow([run, f"{first:.1f}"] + [f"{r:.4f}" for r in ratios])


if __name__ == "__main__":
    main()
