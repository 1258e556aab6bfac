#!/usr/bin/env python3
"""Side by side: our search step (bench_search_step's Google Benchmark JSON) against the PyTorch
peer (darts_search_step.py's JSON), rows of one device. Ratios are PyTorch time / ours (speed-up,
goal ≥ 10 for first order on the GPU, ≥ 2 on the CPU) and our peak / PyTorch's (goal ≤ 0.4).
On the CPU, where steps vary more, the best and the median step of each side are compared.

  python3 bench/peers/compare.py [--device cuda|cpu] OURS.json PEER.json"""
import argparse
import json
import re
import statistics


def ours(path, device):
    """Per row: the times (ms) of every repetition, and the peak memory."""
    rows = {}
    dev = {"cpu": 0, "cuda": 1}[device]
    for b in json.load(open(path))["benchmarks"]:
        m = re.search(r"dev:(\d)/order:(\d)/config:(\d)(?:/graph:(\d))?", b["name"])
        if not m or int(m[1]) != dev or b.get("run_type") == "aggregate":
            continue
        ms = b["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
        key = (("default", "reduced")[int(m[3])], int(m[2]), m[4] == "1")
        times, _ = rows.get(key, ([], 0))
        rows[key] = (times + [ms], b.get("peak_MiB", float("nan")))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("ours")
    parser.add_argument("peer")
    args = parser.parse_args()
    mine = ours(args.ours, args.device)
    peer = {(r["config"], r["order"]): r for r in json.load(open(args.peer))}
    if args.device == "cpu":
        print(f"{'row':24s} {'autonet best/median ms':>23s} {'pytorch best/median ms':>23s} "
              f"{'speed-up best/median':>21s}")
    else:
        print(f"{'row':24s} {'autonet ms':>10s} {'pytorch ms':>10s} {'speed-up':>8s} "
              f"{'autonet MiB':>11s} {'pytorch MiB':>11s} {'mem ratio':>9s}")
    for key in sorted(mine):
        if key[:2] not in peer:
            continue
        times, mib = mine[key]
        p = peer[key[:2]]
        name = f"{key[0]} order {key[1]}" + (" graph" if key[2] else "")
        if args.device == "cpu":
            ours_best, ours_median = min(times), statistics.median(times)
            peer_times = p.get("ms_steps", [p["ms_per_step"]])
            peer_best, peer_median = min(peer_times), statistics.median(peer_times)
            print(f"{name:24s} {ours_best:11.0f} {ours_median:11.0f} {peer_best:11.0f} "
                  f"{peer_median:11.0f} {peer_best / ours_best:10.2f} "
                  f"{peer_median / ours_median:10.2f}")
            continue
        ms = statistics.median(times)
        print(f"{name:24s} {ms:10.2f} {p['ms_per_step']:10.2f} "
              f"{p['ms_per_step'] / ms:8.2f} {mib:11.1f} {p['peak_MiB']:11.1f} "
              f"{mib / p['peak_MiB']:9.2f}")


if __name__ == "__main__":
    main()
