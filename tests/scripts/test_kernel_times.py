#!/usr/bin/env python3
"""bench/kernel_times.py on a made-up Nsight Compute CSV: our kernels named by file and template
arguments from their mangled names, a library kernel kept as it is, times summed per kernel in
any unit ncu prints, largest first, and a CSV without time rows refused."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "kernel_times.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import kernel_times  # noqa: E402

HEADER = ('"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream",'
          '"Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit",'
          '"Metric Value"\n')
STENCIL = ("_ZN7autonet4cuda49_GLOBAL__N__607eaac7_16_stencil_group_cu_606e109817"
           "input_grad_kernelIfEEvPKT_NS1_5GroupIS3_EEPS3_iiilb")
POINTWISE = ("_ZN7autonet4cuda51_GLOBAL__N__d515f664_18_pointwise_group_cu_660a056618"
             "weight_grad_kernelIfLi16ELi32EEEvNS1_5BatchIT_EE")


def row(i, name, unit, value):
    return (f'"{i}","1","bench","h","{name}","1","7","(256, 1, 1)","(8, 1, 1)","0","9.0",'
            f'"Command line profiler metrics","gpu__time_duration.sum","{unit}","{value}"\n')


class KernelTimesTest(unittest.TestCase):
    def test_short_names(self):
        self.assertEqual(kernel_times.short_name(STENCIL), "stencil_group.cu input_grad_kernel<f>")
        self.assertEqual(kernel_times.short_name(POINTWISE),
                         "pointwise_group.cu weight_grad_kernel<f,16,32>")
        self.assertEqual(kernel_times.short_name("sm80_xmma_gemm_f32f32"), "sm80_xmma_gemm_f32f32")

    def run_on(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write(text)
        try:
            return subprocess.run([sys.executable, SCRIPT, f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)

    def test_sums_per_kernel_in_any_unit_largest_first(self):
        text = ("==PROF== Connected to process 1\n" + HEADER + row(0, STENCIL, "ns", "1,500") +
                row(1, POINTWISE, "usecond", "3") + row(2, STENCIL, "us", "2.5") +
                row(3, "sm80_xmma_gemm_f32f32", "nsecond", "100"))
        done = self.run_on(text)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0], "4 kernels, 0.01 ms of GPU time in all")  # 7.1 µs
        self.assertIn("stencil_group.cu input_grad_kernel<f>", lines[2])  # 4.0 µs in 2 launches
        self.assertIn("pointwise_group.cu weight_grad_kernel<f,16,32>", lines[3])
        self.assertEqual(lines[2].split()[-4:], ["2", "0.004", "56.3%", "2.0"])

    def test_a_csv_without_times_is_refused(self):
        done = self.run_on(HEADER)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("no gpu__time_duration.sum rows", done.stderr)


if __name__ == "__main__":
    unittest.main()
