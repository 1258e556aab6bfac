#!/usr/bin/env python3
"""bench/peers/compare.py on hand-made rows (no PyTorch needed): the ratios of one GPU table, and
the refusals that keep a comparison honest (another network, rows of two devices)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

COMPARE = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers", "compare.py")


def ours(rows):
    """A Google Benchmark report of bench_search_step rows: (name, ms, peak MiB, params)."""
    return {"benchmarks": [{"name": n, "run_type": "iteration", "real_time": ms, "time_unit": "ms",
                            "peak_MiB": mib, "params": params} for n, ms, mib, params in rows]}


def peer(mode, ms, mib=1000.0, params=100, device="H200", reason=""):
    return {"config": "default", "order": 1, "mode": mode, "ms_per_step": ms, "peak_MiB": mib,
            "params": params, "device": device, "reason": reason, "ms_steps": [ms]}


class CompareTest(unittest.TestCase):
    def run_compare(self, *documents):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, doc in enumerate(documents):
                paths.append(os.path.join(d, f"{i}.json"))
                with open(paths[-1], "w") as f:
                    json.dump(doc, f)
            return subprocess.run([sys.executable, COMPARE, *paths], capture_output=True,
                                  text=True)

    def test_ratios_against_our_faster_step_and_pytorchs_best_mode(self):
        mine = ours([("BM_SearchStep/dev:1/order:1/config:0/graph:0/manual_time", 40.0, 500.0, 100),
                     ("BM_SearchStep/dev:1/order:1/config:0/graph:1/manual_time", 20.0, 400.0, 100)])
        result = self.run_compare(mine, [peer("eager", 800.0), peer("compile", 100.0),
                                         peer("cuda-graph", None, reason="RuntimeError: no")])
        self.assertEqual(result.returncode, 0, result.stderr)
        line = next(l for l in result.stdout.splitlines() if l.startswith("default order 1"))
        self.assertEqual(line.split(), ["default", "order", "1", "40.00", "20.00", "800.00",
                                        "100.00", "compile", "40.00x", "5.00x", "400.00",
                                        "1000.00", "0.40"])
        self.assertIn("could not run: default order 1 cuda-graph: RuntimeError: no", result.stdout)

    def test_the_side_streams_gain_against_one_stream_rows_of_the_same_report(self):
        step = "dev:1/order:1/config:0/graph:{}/manual_time"
        mine = ours([("BM_SearchStep/" + step.format(0), 40.0, 500.0, 100),
                     ("BM_SearchStep/" + step.format(1), 20.0, 400.0, 100),
                     ("BM_SearchStepOneStream/" + step.format(1), 25.0, 380.0, 100)])
        result = self.run_compare(mine, [peer("eager", 800.0)])
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        side = next(l for l in lines if l.startswith("default order 1 graph"))
        # time and peak: one stream, then side stream (its held-back blocks may raise the peak)
        self.assertEqual(side.split()[4:], ["25.00", "20.00", "1.25x", "380.00", "400.00"])
        self.assertFalse(any(l.startswith("default order 1 eager") for l in lines))  # no pair
        # The one-stream rows are not ours in the peers' table: our faster step is still 20 ms.
        table = next(l for l in lines if l.startswith("default order 1") and "graph" not in l)
        self.assertEqual(table.split()[3:5], ["40.00", "20.00"])

    def test_refuses_a_peer_with_another_parameter_count(self):
        mine = ours([("BM_SearchStep/dev:1/order:1/config:0/graph:0/manual_time", 40.0, 500.0, 100)])
        result = self.run_compare(mine, [peer("eager", 800.0, params=99)])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("PyTorch eager has 99 parameters, ours 100", result.stderr)

    def test_refuses_peer_rows_of_two_devices(self):
        mine = ours([("BM_SearchStep/dev:1/order:1/config:0/graph:0/manual_time", 40.0, 500.0, 100)])
        result = self.run_compare(mine, [peer("eager", 800.0)], [peer("compile", 90.0, device="A100")])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("different devices", result.stderr)


if __name__ == "__main__":
    unittest.main()
