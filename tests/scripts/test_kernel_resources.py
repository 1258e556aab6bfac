#!/usr/bin/env python3
"""bench/kernel_resources.py on a made-up ptxas --resource-usage report: each entry function's
registers, stack frame, spills and shared memory; our float kernels kept, double and library
kernels left out unless asked, those with local memory first and flagged; a report without
resource lines refused."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "kernel_resources.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import kernel_resources  # noqa: E402

MIX = ("_ZN7autonet4cuda44_GLOBAL__N__d210b318_11_rnn_cell_cu_e781b720"
       "30mix_batch_norm_backward_kernelI{t}EEvPKT_S5_S5_S5_S5_S5_S5_lllbPS3_S6_S6_")
GEMM = ("_ZN7autonet4cuda51_GLOBAL__N__d515f664_18_pointwise_group_cu_660a0566"
        "19batched_gemm_kernelIfLi16ELi64EEEvNS1_5BatchIT_EE")
CUB = "_ZN3cub17CUB_300001_SM_9006detail11EmptyKernelIvEEvv"


def entry(name, regs, frame=(0, 0, 0), smem=None):
    used = f"ptxas info    : Used {regs} registers, used 1 barriers"
    if frame[0]:
        used += f", {frame[0]} bytes cumulative stack size"
    if smem:
        used += f", {smem} bytes smem"
    return (f"ptxas info    : Compiling entry function '{name}' for 'sm_90'\n"
            f"ptxas info    : Function properties for {name}\n"
            f"    {frame[0]} bytes stack frame, {frame[1]} bytes spill stores, {frame[2]} bytes "
            f"spill loads\n{used}\nptxas info    : Compile time = 1.0 ms\n")


REPORT = ("ptxas info    : 40 bytes gmem\n" + entry(CUB, 4) +
          entry(MIX.format(t="d"), 56, (256, 0, 0)) + entry(MIX.format(t="f"), 40, (128, 0, 0), 5312) +
          entry(GEMM, 48, smem=5248))


class KernelResourcesTest(unittest.TestCase):
    def test_parses_every_entry(self):
        found = kernel_resources.kernels(REPORT)
        self.assertEqual([f[1:] for f in found],
                         [(4, 0, 0, 0, 0), (56, 256, 0, 0, 0), (40, 128, 0, 0, 5312),
                          (48, 0, 0, 0, 5248)])

    def test_table_keeps_our_float_kernels_local_memory_first(self):
        lines = kernel_resources.table(kernel_resources.kernels(REPORT)).splitlines()
        self.assertEqual(len(lines), 3)  # header, the float mix kernel, the GEMM
        self.assertTrue(lines[1].startswith("rnn_cell.cu mix_batch_norm_backward_kernel<f>"))
        self.assertTrue(lines[1].endswith("local memory"))
        self.assertTrue(lines[2].startswith("pointwise_group.cu batched_gemm_kernel<f,16,64>"))
        self.assertNotIn("local memory", lines[2])
        local = kernel_resources.table(kernel_resources.kernels(REPORT), "all", True).splitlines()
        self.assertEqual([l.split()[1] for l in local[1:]],
                         ["mix_batch_norm_backward_kernel<d>", "mix_batch_norm_backward_kernel<f>"])

    def test_refuses_a_report_without_resources(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("nvcc warning : nothing\n")
        try:
            r = subprocess.run([sys.executable, SCRIPT, f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no ptxas resource report", r.stderr)


if __name__ == "__main__":
    unittest.main()
