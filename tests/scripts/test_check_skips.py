#!/usr/bin/env python3
"""scripts/check-skips' naming check on hand-made test sources: a test that reaches the GPU
without the name scripts/gpu-check selects is reported, whichever way it reaches it."""
import importlib.machinery
import importlib.util
import os
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "check-skips")
loader = importlib.machinery.SourceFileLoader("check_skips", SCRIPT)
spec = importlib.util.spec_from_loader("check_skips", loader)
check_skips = importlib.util.module_from_spec(spec)
loader.exec_module(check_skips)

HIDDEN = """
TEST(Loader, DeliversTheSameValues) {
  std::string why;
  if (cuda_available(&why)) {
    EXPECT_EQ(x.to(Device::cuda(0)).to_vector<float>(), x.to_vector<float>());
  }
}
"""


def problems(source, header=None):
    return check_skips.unnamed_device_tests({"t.cpp": source}, [header] if header else [])


class NamingCheckTest(unittest.TestCase):
    def test_a_device_check_hidden_in_an_unnamed_test_is_reported(self):
        self.assertEqual(problems(HIDDEN),
                         ["t.cpp: Loader.DeliversTheSameValues reaches the GPU but its name has no "
                          "Cuda, Gpu or GPU"])

    def test_the_gpu_name_selects_it(self):
        for name in ("DeliversTheSameValuesOnCuda", "GpuCopies", "ToTheGPU"):
            self.assertEqual(problems(HIDDEN.replace("DeliversTheSameValues", name)), [])
        self.assertEqual(problems(HIDDEN.replace("TEST(Loader", "TEST_P(CudaLoader")), [])

    def test_through_a_helper_a_helper_of_a_helper_or_a_macro(self):
        via_helpers = """
Tensor on_device(const Tensor& t) { return t.to(Device::cuda(0)); }
std::vector<float> round_trip(const Tensor& t) {
  return on_device(t).to_vector<float>();
}
TEST(Loader, RoundTrips) { EXPECT_EQ(round_trip(x).size(), 4u); }
TEST(Loader, StaysOnTheHost) { EXPECT_EQ(x.numel(), 4); }
"""
        self.assertEqual([p.split(": ")[1].split(" ")[0] for p in problems(via_helpers)],
                         ["Loader.RoundTrips"])
        via_macro = """
#define SKIP_WITHOUT_GPU()                      \\
  do {                                          \\
    if (!cuda_available()) GTEST_SKIP() << "";  \\
  } while (0)
TEST(Graph, Replays) { SKIP_WITHOUT_GPU(); }
"""
        self.assertEqual(len(problems(via_macro)), 1)
        header = "inline Device gpu_or_cpu() { return cuda_available() ? Device::cuda(0) : Device::cpu(); }"
        self.assertEqual(len(problems("TEST(Net, Runs) { run(gpu_or_cpu()); }", header)), 1)

    def test_comments_strings_and_the_opt_out_are_not_device_checks(self):
        self.assertEqual(problems('TEST(Log, Says) {  // cuda_available() is not called\n'
                                  '  EXPECT_EQ(text, "Device::cuda(0) cuda_available(");\n}\n'), [])
        self.assertEqual(problems(HIDDEN.replace(") {\n  std::string", ") {  // not a GPU test: "
                                                 "why\n  std::string", 1)), [])

    def test_the_repository_follows_the_convention(self):
        self.assertEqual(check_skips.check_test_names(), [])


if __name__ == "__main__":
    unittest.main()
