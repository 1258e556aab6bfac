#!/usr/bin/env python3
"""Where a step's GPU time goes, kernel by kernel: reads the CSV that Nsight Compute writes for
`gpu__time_duration.sum` (scripts/gpu-kernel-times runs it over one step of a step benchmark)
and prints each kernel's launches, total and mean time and share of the step, largest first.

    bench/kernel_times.py NCU_CSV [--top N]

The times are each kernel's own duration on an otherwise idle GPU (ncu serialises the kernels),
so their sum is the step's GPU-busy time without overlap or launch gaps: what fusing or speeding
up one kernel can win, next to the step's measured time.
"""
import argparse
import csv
import re
import sys
from collections import defaultdict

UNIT_NS = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9,
           "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def short_name(mangled):
    """'stencil_group.cu input_grad_kernel<f>' for one of our kernels (the Itanium-mangled name
    holds its file, as the anonymous namespace it lives in); a library kernel's name as it is."""
    m = re.search(r"_GLOBAL__N__[0-9a-f]+_\d+_(\w+?)_cu_[0-9a-f]{8}(\d+)", mangled)
    if not m:
        return mangled
    length, rest = int(m.group(2)), mangled[m.end():]
    kernel, rest = rest[:length], rest[length:]
    args = re.match(r"I(\w*?E)E", rest)
    if args:  # template arguments: a type letter (f, d) or a literal (Li16E → 16)
        parts = re.findall(r"L[a-z](\d+)E|([a-z])", args.group(1))
        kernel += "<" + ",".join(number or letter for number, letter in parts) + ">"
    return f"{m.group(1)}.cu {kernel}"


def rows(path):
    """The CSV report's rows (ncu's own messages before the header are skipped)."""
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    return list(csv.DictReader(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    times = defaultdict(float)  # kernel name → ns
    launches = defaultdict(int)
    for r in rows(args.csv):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r.get("Metric Unit", "nsecond")
        if unit not in UNIT_NS:
            sys.exit(f"{args.csv}: unknown time unit '{unit}'")
        value = float(r["Metric Value"].replace(",", ""))
        name = short_name(r["Kernel Name"])
        times[name] += value * UNIT_NS[unit]
        launches[name] += 1
    if not times:
        sys.exit(f"{args.csv}: no gpu__time_duration.sum rows (did ncu profile any kernel?)")
    total = sum(times.values())
    print(f"{sum(launches.values())} kernels, {total / 1e6:.2f} ms of GPU time in all")
    print(f"{'kernel':<60} {'launches':>8} {'total ms':>9} {'share':>6} {'mean us':>8}")
    for name in sorted(times, key=times.get, reverse=True)[: args.top]:
        short = name if len(name) <= 60 else name[:57] + "..."
        print(f"{short:<60} {launches[name]:>8} {times[name] / 1e6:>9.3f} "
              f"{100 * times[name] / total:>5.1f}% {times[name] / launches[name] / 1e3:>8.1f}")


if __name__ == "__main__":
    main()
