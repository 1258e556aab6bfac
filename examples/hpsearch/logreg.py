#!/usr/bin/env python3
"""A trial for autonet's `command` workload: logistic regression trained by minibatch SGD with
momentum on a small synthetic two-class problem, standard library only.

It reads the trial's parameters as JSON on stdin (they are also in the file named by
AUTONET_TRIAL_PARAMS, and in AUTONET_PARAM_<NAME> variables), prints one report per epoch,
    {"step": epoch, "value": validation loss, "metrics": {"accuracy": ...}, "last_step": epochs}
and a final line {"final": validation loss, "metrics": {...}}. Anything else it prints (this
docstring's "epoch ..." lines on stderr, say) lands in the trial's log. A pruned trial gets
SIGTERM between two reports.

Run it by hand:  echo '{"lr": 0.1, "momentum": 0.9, "l2": 1e-4, "batch": 16}' | python3 logreg.py
"""
import json
import math
import os
import random
import sys

FEATURES, SAMPLES, VALID = 8, 600, 200


def make_data():
    """A fixed data set (the same for every trial): two overlapping Gaussian classes."""
    rng = random.Random(0)
    direction = [rng.gauss(0, 1) for _ in range(FEATURES)]
    data = []
    for _ in range(SAMPLES):
        label = rng.random() < 0.5
        x = [rng.gauss(0, 1) + (0.35 if label else -0.35) * d for d in direction]
        data.append((x, 1.0 if label else 0.0))
    return data[VALID:], data[:VALID]


def predict(w, b, x):
    z = b + sum(wi * xi for wi, xi in zip(w, x))
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def evaluate(w, b, data):
    loss = correct = 0.0
    for x, y in data:
        p = min(max(predict(w, b, x), 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p >= 0.5) == (y == 1.0)
    return loss / len(data), correct / len(data)


def main():
    params = json.load(sys.stdin)
    lr, momentum, l2 = params["lr"], params.get("momentum", 0.0), params.get("l2", 0.0)
    batch = int(params.get("batch", 16))
    epochs = int(os.environ.get("LOGREG_EPOCHS", "6"))
    rng = random.Random(int(os.environ.get("AUTONET_TRIAL_SEED", "0")))
    train, valid = make_data()
    w, b = [0.0] * FEATURES, 0.0
    vw, vb = [0.0] * FEATURES, 0.0
    for epoch in range(1, epochs + 1):
        rng.shuffle(train)
        for start in range(0, len(train), batch):
            chunk = train[start:start + batch]
            gw, gb = [l2 * wi for wi in w], 0.0
            for x, y in chunk:
                err = (predict(w, b, x) - y) / len(chunk)
                gb += err
                for i in range(FEATURES):
                    gw[i] += err * x[i]
            vw = [momentum * v - lr * g for v, g in zip(vw, gw)]
            vb = momentum * vb - lr * gb
            w = [wi + v for wi, v in zip(w, vw)]
            b += vb
        loss, accuracy = evaluate(w, b, valid)
        if not math.isfinite(loss):
            loss = None  # JSON has no NaN: null reports a diverged trial
        print(f"epoch {epoch}: valid loss {loss}, accuracy {accuracy:.3f}", file=sys.stderr)
        print(json.dumps({"step": epoch, "value": loss, "metrics": {"accuracy": accuracy},
                          "last_step": epochs}), flush=True)
    print(json.dumps({"final": loss, "metrics": {"accuracy": accuracy}}))


if __name__ == "__main__":
    main()
