#!/usr/bin/env python3
"""Markdown tables from compare-optuna's JSON lines: overhead.jsonl and quality.jsonl."""
import collections
import json
import statistics
import sys


def overhead(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    by = {(r["storage"], r["sampler"], r["peer"]): r for r in rows}
    print("| store | sampler | autonet ms/trial | Optuna ms/trial | ratio |")
    print("|---|---|---:|---:|---:|")
    for storage, sampler in sorted({(r["storage"], r["sampler"]) for r in rows}):
        ours, theirs = by.get((storage, sampler, "autonet")), by.get((storage, sampler, "optuna"))
        if ours and theirs:
            print(f"| {storage} | {sampler} | {ours['ms_per_trial']:.2f} | "
                  f"{theirs['ms_per_trial']:.2f} | 1/{theirs['ms_per_trial'] / ours['ms_per_trial']:.1f} |")
    versions = {r["version"] for r in rows if "version" in r}
    print(f"\n{rows[0]['trials']} trials each; Optuna {', '.join(sorted(versions))}.\n")


def quality(path):
    curves = collections.defaultdict(list)
    for line in open(path):
        r = json.loads(line)
        curves[(r["function"], r["sampler"])].append(r["best"])
    functions = list(dict.fromkeys(f for f, _ in curves))
    samplers = list(dict.fromkeys(s for _, s in curves))
    print("| function | " + " | ".join(samplers) + " |")
    print("|---|" + "---:|" * len(samplers))
    for f in functions:
        cells = []
        for s in samplers:
            runs = curves[(f, s)]
            cells.append(" / ".join(f"{statistics.median(c[n - 1] for c in runs):.3g}" for n in (50, 100)))
        print(f"| {f} | " + " | ".join(cells) + " |")
    n = len(next(iter(curves.values())))
    print(f"\nMedian over {n} seeds of the best regret f(x) − f* after 50 / 100 trials (lower is better).")


if __name__ == "__main__":
    overhead(sys.argv[1])
    quality(sys.argv[2])
