#!/usr/bin/env python3
"""Side by side: our search step (bench_search_step's Google Benchmark JSON, CUDA rows) against the
PyTorch peer (darts_search_step.py's JSON). Ratios are PyTorch time / ours (speed-up, goal ≥ 10 for
first order) and our peak / PyTorch's (goal ≤ 0.4).

  python3 bench/peers/compare.py OURS.json PEER.json"""
import json
import re
import sys


def ours(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        m = re.search(r"dev:1/order:(\d)/config:(\d)(?:/graph:(\d))?", b["name"])
        if not m or b.get("run_type") == "aggregate":
            continue
        ms = b["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
        graph = m[3] == "1"
        rows[(("default", "reduced")[int(m[2])], int(m[1]), graph)] = (
            ms, b.get("peak_MiB", float("nan")))
    return rows


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    mine = ours(sys.argv[1])
    peer = {(r["config"], r["order"]): r for r in json.load(open(sys.argv[2]))}
    print(f"{'row':24s} {'autonet ms':>10s} {'pytorch ms':>10s} {'speed-up':>8s} "
          f"{'autonet MiB':>11s} {'pytorch MiB':>11s} {'mem ratio':>9s}")
    for key in sorted(mine):
        if key[:2] not in peer:
            continue
        ms, mib = mine[key]
        p = peer[key[:2]]
        name = f"{key[0]} order {key[1]}" + (" graph" if key[2] else "")
        print(f"{name:24s} {ms:10.2f} {p['ms_per_step']:10.2f} "
              f"{p['ms_per_step'] / ms:8.2f} {mib:11.1f} {p['peak_MiB']:11.1f} "
              f"{mib / p['peak_MiB']:9.2f}")


if __name__ == "__main__":
    main()
