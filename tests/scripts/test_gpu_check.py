#!/usr/bin/env python3
"""scripts/gpu-check keeps within its time budget (AUTONET_GPU_SECONDS): on a made-up build whose
test binaries are shell scripts, a part still running at the deadline is stopped and recorded as
such, a part that would start after it is recorded as NOT RUN, every row reaches
$OUT/summary.txt, and the status tells them apart (1: a part failed, 3: a part did not run)."""
import os
import subprocess
import tempfile
import time
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "gpu-check")

FAST = """#!/bin/sh
echo '[==========] 3 tests from 1 test suite ran. (1 ms total)'
"""
SLOW = "#!/bin/sh\nsleep 60\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def run_check(build, out, budget):
    env = dict(os.environ, AUTONET_BUILD_DIR=build, OUT=out, AUTONET_GPU_SECONDS=str(budget),
               PATH=os.path.join(build, "fake-bin") + os.pathsep + os.environ["PATH"])
    start = time.monotonic()
    done = subprocess.run(["bash", SCRIPT, "tests"], env=env, capture_output=True, text=True,
                          timeout=120)
    with open(os.path.join(out, "summary.txt")) as f:
        rows = {line.split()[0]: line.split(None, 2)[1:] for line in f if line.strip()}
    return done.returncode, time.monotonic() - start, rows


class BudgetTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.build = os.path.join(self.dir.name, "build")
        self.out = os.path.join(self.dir.name, "out")
        write(os.path.join(self.build, "apps", "autonet"), "#!/bin/sh\necho autonet info\n")
        write(os.path.join(self.build, "fake-bin", "nvidia-smi"), "#!/bin/sh\necho Made-up GPU\n")
        write(os.path.join(self.build, "tests", "test_kernels"), FAST)

    def tearDown(self):
        self.dir.cleanup()

    def test_every_part_runs_within_a_budget_that_holds_them(self):
        write(os.path.join(self.build, "tests", "test_autograd"), FAST)
        status, _, rows = run_check(self.build, self.out, 60)
        self.assertEqual(status, 0, rows)
        self.assertEqual(rows["test_kernels"][0], "PASS")
        self.assertEqual(rows["test_autograd"][0], "PASS")

    def test_a_part_at_the_deadline_is_stopped_and_later_ones_are_not_run(self):
        write(os.path.join(self.build, "tests", "test_slow"), SLOW)
        write(os.path.join(self.build, "tests", "test_zz_after"), FAST)
        status, seconds, rows = run_check(self.build, self.out, 12)
        self.assertEqual(status, 1)  # a part failed
        self.assertLess(seconds, 30, "the slow test ran past the deadline")
        self.assertEqual(rows["test_kernels"][0], "PASS")  # first: the kernels' parity rows
        self.assertEqual(rows["test_slow"][0], "FAIL")
        self.assertIn("deadline", rows["test_slow"][1])
        self.assertEqual(rows["test_zz_after"][0], "NOT", rows)  # "NOT RUN ..."
        self.assertIn("AUTONET_GPU_SECONDS", rows["test_zz_after"][1])

    def test_a_budget_too_short_for_anything_runs_nothing_and_says_so(self):
        status, _, rows = run_check(self.build, self.out, 5)
        self.assertEqual(status, 3)  # nothing failed, something did not run
        self.assertEqual(rows["test_kernels"][0], "NOT", rows)


if __name__ == "__main__":
    unittest.main()
