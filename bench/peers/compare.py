#!/usr/bin/env python3
"""Side by side, rows of one run: our search steps (bench_search_step's and bench_rnn_search_step's
Google Benchmark JSON) against their PyTorch peers (darts_search_step.py's and rnn_search_step.py's
JSON, any of the modes eager, compile, cuda-graph). Speed-ups are PyTorch's time / ours (ours: the
faster of our eager and CUDA-graph steps); memory is our peak / PyTorch eager's. On the CPU, where
steps vary more, the best and the median step of each side are compared.

  python3 bench/peers/compare.py [--device cuda|cpu] FILE.json...

Each file is told apart by its content (a Google Benchmark report or a list of peer rows). A peer
row whose parameter count differs from ours is an error: the two would not be the same network.
Where the report also has BM_SearchStepOneStream rows (the same step with every kernel on one
stream), a second table gives what the side stream's weight gradients gain, in the same run."""
import argparse
import json
import re
import statistics
import sys

# Our benchmarks' config argument → the peers' config names.
CONFIGS = {"BM_SearchStep": ("default", "reduced", "pc-darts", "pc-darts-256"),
           "BM_RnnSearchStep": ("reference", "small")}
# Rows of a step with every kernel on one stream → the benchmark whose configs they use.
ONE_STREAM = {"BM_SearchStepOneStream": "BM_SearchStep",
              "BM_RnnSearchStepOneStream": "BM_RnnSearchStep"}
TIME_UNITS = {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}


def fail(message):
    raise SystemExit(f"compare.py: {message}")


def read_ours(report, path, device, ours, one_stream):
    """Adds {(config, order, graph): {"times": [ms...], "peak": MiB, "params": n}} from `report`:
    to `ours`, or to `one_stream` for the rows with every kernel on one stream."""
    dev = {"cpu": 0, "cuda": 1}[device]
    for b in report["benchmarks"]:
        m = re.match(r"(\w+)/dev:(\d)/order:(\d)/config:(\d)(?:/graph:(\d))?", b["name"])
        bench = m and ONE_STREAM.get(m[1], m[1])
        if not m or bench not in CONFIGS or int(m[2]) != dev or b.get("run_type") == "aggregate":
            continue
        if b.get("error_occurred"):
            fail(f"{path}: {b['name']} did not run: {b.get('error_message', '')}")
        key = (CONFIGS[bench][int(m[4])], int(m[3]), m[5] == "1")
        rows = one_stream if m[1] in ONE_STREAM else ours
        row = rows.setdefault(key, {"times": [], "peak": b.get("peak_MiB", float("nan")),
                                    "params": b.get("params")})
        row["times"].append(b["real_time"] * TIME_UNITS[b["time_unit"]])


def read_peer(rows, path, peers, devices):
    """Adds {(config, order): {mode: row}} from a peer's list of rows."""
    for r in rows:
        try:
            peers.setdefault((r["config"], int(r["order"])), {})[r["mode"]] = r
        except KeyError as e:
            fail(f"{path}: a peer row without {e} (rows come from bench/peers/*_search_step.py)")
        if r.get("ms_per_step") is not None:
            devices.add(r["device"])


def load(paths, device):
    ours, peers, devices, one_stream = {}, {}, set(), {}
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            fail(f"{path}: {e}")
        if isinstance(data, dict) and "benchmarks" in data:
            read_ours(data, path, device, ours, one_stream)
        elif isinstance(data, list):
            read_peer(data, path, peers, devices)
        else:
            fail(f"{path}: neither a Google Benchmark report nor a list of peer rows")
    if len(devices) > 1:  # ratios only between rows of one machine and run
        fail(f"the peer rows come from different devices: {sorted(devices)}")
    for (config, order, _), row in ours.items():
        for mode, p in peers.get((config, order), {}).items():
            if row["params"] is not None and p["params"] != row["params"]:
                fail(f"{config} order {order}: PyTorch {mode} has {p['params']} parameters, ours "
                     f"{int(row['params'])}: not the same network")
    return ours, peers, one_stream


def fmt(x, width, suffix=""):
    """x with two decimals and `suffix` right-aligned in `width`, or "-" when x is None."""
    return format("-" if x is None else f"{x:.2f}{suffix}", f">{width}s")


def gpu_table(ours, peers, out):
    """One line per step: ours eager and graphs, PyTorch eager and its best compiled/graph mode."""
    out.write(f"{'step':20s} {'ours eager':>10s} {'ours graph':>10s} {'pt eager':>9s} "
              f"{'pt best':>9s} {'pt best mode':>12s} {'vs eager':>8s} {'vs best':>8s} "
              f"{'ours MiB':>9s} {'pt MiB':>9s} {'mem':>5s}\n")
    reasons = []
    for config, order in sorted({k[:2] for k in ours} & set(peers)):
        eager, graph = ours.get((config, order, False)), ours.get((config, order, True))
        mine = [(statistics.median(r["times"]), r["peak"]) for r in (eager, graph) if r]
        best_ms, best_mib = min(mine)
        modes = peers[(config, order)]
        pt_eager = modes.get("eager", {}).get("ms_per_step")
        ran = {m: r for m, r in modes.items() if m != "eager" and r.get("ms_per_step") is not None}
        best_mode = min(ran, key=lambda m: ran[m]["ms_per_step"]) if ran else None
        pt_best = ran[best_mode]["ms_per_step"] if best_mode else None
        pt_mib = modes.get("eager", {}).get("peak_MiB")
        reasons += [f"{config} order {order} {m}: {r['reason']}" for m, r in modes.items()
                    if r.get("ms_per_step") is None]
        out.write(f"{config + ' order ' + str(order):20s} "
                  f"{fmt(eager and statistics.median(eager['times']), 10)} "
                  f"{fmt(graph and statistics.median(graph['times']), 10)} "
                  f"{fmt(pt_eager, 9)} {fmt(pt_best, 9)} {best_mode or '-':>12s} "
                  f"{fmt(pt_eager and pt_eager / best_ms, 8, 'x')} "
                  f"{fmt(pt_best and pt_best / best_ms, 8, 'x')} "
                  f"{fmt(best_mib, 9)} {fmt(pt_mib, 9)} {fmt(pt_mib and best_mib / pt_mib, 5)}\n")
    out.write("ours: the faster of our eager and graph steps; pt best: the faster of PyTorch's "
              "compile and cuda-graph modes; mem: our peak / PyTorch eager's.\n")
    for line in reasons:
        out.write(f"could not run: {line}\n")


def side_stream_table(ours, one_stream, out):
    """Our steps with the side stream against every kernel on one: time and peak memory."""
    shared = sorted(set(ours) & set(one_stream))
    if not shared:
        return
    out.write(f"\n{'step (ms, median)':28s} {'one stream':>10s} {'side stream':>11s} "
              f"{'speed-up':>8s} {'one MiB':>9s} {'side MiB':>9s}\n")
    for key in shared:
        one, side = one_stream[key], ours[key]
        one_ms, side_ms = statistics.median(one["times"]), statistics.median(side["times"])
        name = f"{key[0]} order {key[1]} {'graph' if key[2] else 'eager'}"
        out.write(f"{name:28s} {fmt(one_ms, 10)} {fmt(side_ms, 11)} "
                  f"{fmt(side_ms and one_ms / side_ms, 8, 'x')} {fmt(one['peak'], 9)} "
                  f"{fmt(side['peak'], 9)}\n")


def cpu_table(ours, peers, out):
    """Best and median step of each side, one line per PyTorch mode."""
    out.write(f"{'row':32s} {'autonet best/median ms':>23s} {'pytorch best/median ms':>23s} "
              f"{'speed-up best/median':>21s}\n")
    for key in sorted(ours):
        times = ours[key]["times"]
        for mode, p in sorted(peers.get(key[:2], {}).items()):
            name = f"{key[0]} order {key[1]} {mode}"
            if p.get("ms_per_step") is None:
                out.write(f"{name:32s} could not run: {p['reason']}\n")
                continue
            peer_times = p.get("ms_steps", [p["ms_per_step"]])
            ob, om = min(times), statistics.median(times)
            pb, pm = min(peer_times), statistics.median(peer_times)
            out.write(f"{name:32s} {ob:11.0f} {om:11.0f} {pb:11.0f} {pm:11.0f} "
                      f"{pb / ob:10.2f} {pm / om:10.2f}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("files", nargs="+", metavar="FILE.json")
    args = parser.parse_args()
    ours, peers, one_stream = load(args.files, args.device)
    if not {k[:2] for k in ours} & set(peers):
        fail(f"no step appears on both sides (ours: {sorted({k[:2] for k in ours})}, "
             f"PyTorch: {sorted(peers)})")
    (cpu_table if args.device == "cpu" else gpu_table)(ours, peers, sys.stdout)
    side_stream_table(ours, one_stream, sys.stdout)


if __name__ == "__main__":
    main()
