#!/usr/bin/env python3
"""Optuna's side of bench/hpsearch/compare-optuna.

  optuna_peer.py quality [--seeds 20] [--trials 100]
      The test functions of sampler_quality.cpp (same spaces, regret f(x) - f*), with Optuna's
      TPESampler (its defaults) and RandomSampler; one JSON line per (function, sampler, seed).
  optuna_peer.py overhead --storage URL --trials 1000 --sampler tpe|random
      A study of an instant objective (one float, one int; one report per trial, as the
      autonet synthetic workload sends), timed from create_study to the last trial.
"""
import argparse
import json
import math
import time

import optuna


def branin(t):
    x1, x2 = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
    b, c, s = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - s) * math.cos(x1) + 10 - 0.39788735772973816


H6_ALPHA = [1.0, 1.2, 3.0, 3.2]
H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(t):
    x = [t.suggest_float(f"x{i}", 0, 1) for i in range(1, 7)]
    f = 0.0
    for i in range(4):
        inner = sum(H6_A[i][j] * (x[j] - H6_P[i][j] * 1e-4) ** 2 for j in range(6))
        f -= H6_ALPHA[i] * math.exp(-inner)
    return f + 3.322368011415515


def rosenbrock10(t):
    x = [t.suggest_float(f"x{i}", -5, 10) for i in range(1, 11)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(9))


def mixed(t):
    lr = math.log10(t.suggest_float("lr", 1e-5, 1, log=True)) + 2.5
    layers = t.suggest_int("layers", 1, 8) - 4
    units = math.log2(t.suggest_int("units", 8, 512, log=True)) - 7
    dropout = t.suggest_float("dropout", 0, 0.5) - 0.2
    return lr * lr + 0.3 * layers * layers + 0.25 * units * units + 4 * dropout * dropout


FUNCTIONS = {"branin": branin, "hartmann6": hartmann6, "rosenbrock10": rosenbrock10, "mixed": mixed}
SAMPLERS = {"tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
            "random": lambda seed: optuna.samplers.RandomSampler(seed=seed)}


def quality(args):
    for fname, f in FUNCTIONS.items():
        for sname, make in SAMPLERS.items():
            for seed in range(args.seeds):
                study = optuna.create_study(sampler=make(seed))
                study.optimize(f, n_trials=args.trials)
                best, curve = math.inf, []
                for trial in study.trials:
                    best = min(best, trial.value)
                    curve.append(best)
                print(json.dumps({"function": fname, "sampler": f"optuna {sname}", "seed": seed,
                                  "best": curve}), flush=True)


def overhead(args):
    def objective(t):
        x, n = t.suggest_float("x", 0, 1), t.suggest_int("n", 1, 8)
        value = (x - 0.3) ** 2 + (n - 3) ** 2
        t.report(value, 1)
        return value

    start = time.perf_counter()
    study = optuna.create_study(storage=args.storage, study_name="overhead",
                                sampler=SAMPLERS[args.sampler](0))
    study.optimize(objective, n_trials=args.trials)
    seconds = time.perf_counter() - start
    storage = args.storage.split(":")[0].split("+")[0]  # postgresql+psycopg2 → postgresql
    print(json.dumps({"peer": "optuna", "sampler": args.sampler, "storage": storage,
                      "trials": args.trials, "seconds": seconds,
                      "ms_per_trial": 1000 * seconds / args.trials, "version": optuna.__version__}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--seeds", type=int, default=20)
    q.add_argument("--trials", type=int, default=100)
    o = sub.add_parser("overhead")
    o.add_argument("--storage", required=True)
    o.add_argument("--trials", type=int, default=1000)
    o.add_argument("--sampler", choices=sorted(SAMPLERS), default="random")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quality(args) if args.command == "quality" else overhead(args)


if __name__ == "__main__":
    main()
