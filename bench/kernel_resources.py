#!/usr/bin/env python3
"""What each of our CUDA kernels asks of a thread: registers, stack frame, spills and static shared
memory, from the report ptxas prints with --resource-usage (scripts/kernel-resources compiles
every kernels/cuda/*.cu for sm_90 with it: any machine with nvcc, no GPU needed). A stack frame is
local memory: a per-thread array indexed by a value known only at run time, or spilled
registers; in a kernel's inner loop it costs a memory access where a register would do. Without a
GPU, a hot kernel with a frame is the first place to look.

    bench/kernel_resources.py PTXAS_LOG... [--dtype f|d|all] [--local]

Kernels are named as bench/kernel_times.py names them (file and template arguments); --dtype f
(the default) keeps float kernels and those without a type argument, --local only kernels with a
stack frame or spills.
"""
import argparse
import re
import sys

from kernel_times import short_name

ENTRY = re.compile(r"Compiling entry function '([^']+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")
SMEM = re.compile(r"(\d+) bytes smem")


def kernels(text):
    """[(mangled name, registers, stack bytes, spill stores, spill loads, smem bytes)] of every
    entry function in a ptxas report, in its order."""
    found, entry, frame = [], None, (0, 0, 0)
    for line in text.splitlines():
        m = ENTRY.search(line)
        if m:
            entry, frame = m.group(1), (0, 0, 0)
            continue
        m = FRAME.search(line)
        if m and entry:
            frame = tuple(int(v) for v in m.groups())
            continue
        m = USED.search(line)
        if m and entry:
            smem = SMEM.search(line)
            found.append((entry, int(m.group(1)), *frame, int(smem.group(1)) if smem else 0))
            entry = None
    return found


def type_letter(name):
    """The first template argument's type letter ('f', 'd'), or None."""
    m = re.search(r"<([a-z])\b", name)
    return m.group(1) if m else None


def table(found, dtype="f", local_only=False):
    lines = [f"{'kernel':64s} {'regs':>5s} {'stack':>6s} {'spill st/ld':>12s} {'smem':>7s}"]
    rows = []
    for mangled, regs, stack, stores, loads, smem in found:
        name = short_name(mangled)
        if name == mangled and "autonet" not in mangled:
            continue  # a library's kernel (cub's), not ours
        letter = type_letter(name)
        if dtype != "all" and letter not in (None, dtype):
            continue
        if local_only and stack == 0 and stores == 0:
            continue
        rows.append((stack + stores + loads, regs, name, stack, stores, loads, smem))
    for _, regs, name, stack, stores, loads, smem in sorted(rows, key=lambda r: (-r[0], -r[1], r[2])):
        flag = "  local memory" if stack or stores else ""
        lines.append(f"{name:64s} {regs:5d} {stack:6d} {f'{stores}/{loads}':>12s} {smem:7d}{flag}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+")
    parser.add_argument("--dtype", choices=["f", "d", "all"], default="f")
    parser.add_argument("--local", action="store_true")
    args = parser.parse_args()
    found = []
    for path in args.logs:
        with open(path) as f:
            found += kernels(f.read())
    if not found:
        sys.exit(f"{', '.join(args.logs)}: no ptxas resource report (compile with --resource-usage)")
    print(table(found, args.dtype, args.local))


if __name__ == "__main__":
    main()
