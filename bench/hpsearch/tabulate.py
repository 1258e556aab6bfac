#!/usr/bin/env python3
"""Markdown tables from compare-optuna's JSON lines: overhead.jsonl and quality.jsonl."""
import collections
import json
import math
import statistics
import sys


def mann_whitney(a, b):
    """Two-sided Mann–Whitney U test, normal approximation (ties get their mean rank): (z, p)."""
    ranked = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks, i = [0.0] * len(ranked), 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    u = sum(r for r, (_, group) in zip(ranks, ranked) if group == 0) - n1 * (n1 + 1) / 2
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return z, math.erfc(abs(z) / math.sqrt(2))


def overhead(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    if not rows:
        return
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
    if not curves:
        return
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
    # Is our TPE's gap to Optuna's more than seed-to-seed noise? z < 0: ours lower (better).
    if ("autonet tpe" in samplers) and ("optuna tpe" in samplers):
        print("\nautonet TPE against Optuna TPE, Mann–Whitney over the seeds (z < 0: ours better):\n")
        for f in functions:
            tests = []
            for t in (50, 100):
                z, p = mann_whitney([c[t - 1] for c in curves[(f, "autonet tpe")]],
                                    [c[t - 1] for c in curves[(f, "optuna tpe")]])
                tests.append(f"{t} trials z = {z:+.2f}, p = {p:.2f}")
            print(f"- {f}: " + "; ".join(tests))


if __name__ == "__main__":
    overhead(sys.argv[1])
    quality(sys.argv[2])
