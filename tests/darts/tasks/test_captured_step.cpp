// The graph-replayed step (darts/tasks/captured_step.h) against the eager search_step: the same
// kernels in the same order, so weights, α and every reported value must be bit-identical. What a
// capture needs of the passes (no wait for the host) is checked on the CPU as well.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/captured_step.h"
#include "darts/tasks/search_trainer.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "runtime/device.h"
#include "runtime/host_sync_guard.h"
#include "runtime/side_stream.h"
#include "tests/darts/tiny_searcher.h"

namespace autonet::darts {
namespace {

using test::labels_for;
using test::random_images;
using Searcher = test::TinySearcher;

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

TEST(CapturedSearchStep, RefusesCpuNetworks) {
  Searcher s(Device::cpu());
  EXPECT_THROW(CapturedSearchStep(s.net, s.architect, s.sgd, 5.0), Error);
}

ArchitectConfig second_order() {
  ArchitectConfig a;
  a.unrolled = true;
  return a;
}

// The captured passes wait for nothing on the host, proven on the CPU (runtime/host_sync_guard.h):
// the α pass of either order — second order's R = 0.01/‖v‖ stays on the device — and the weight
// pass, for DARTS and PC-DARTS; nor do the optimizer steps between them, so an eager step waits
// once, at its end. (Fails with ‖v‖ read on the host: "Tensor::fill_ inside ...", shown.)
TEST(CapturedSearchStep, PassesWaitForNothingOnTheHost) {
  const Device cpu = Device::cpu();
  const Tensor xt = random_images({4, 3, 8, 8}, 1, cpu), xv = random_images({4, 3, 8, 8}, 2, cpu);
  const Tensor yt = labels_for(4, 0, cpu), yv = labels_for(4, 3, cpu);
  for (const SearchConfig& network : {Searcher::config(), Searcher::pc_darts_config()}) {
    for (const ArchitectConfig& arch : {ArchitectConfig{}, second_order()}) {
      Searcher s(cpu, arch, network);
      search_step(s.net, s.architect, s.sgd, xt, yt, xv, yv, 5.0);  // SGD's momentum buffer exists
      SCOPED_TRACE(std::string(arch.unrolled ? "second" : "first") + " order" +
                   (network.partial_channels > 1 ? ", PC-DARTS" : ""));
      NoHostSyncScope recording("a pass to capture");
      EXPECT_NO_THROW(s.architect.compute_gradient(xt, yt, xv, yv));
      EXPECT_NO_THROW(weight_pass(s.net, xt, yt));
      // The eager rest of the step, up to its one host sync: Adam on α, the clip, SGD.
      EXPECT_NO_THROW(s.architect.apply_gradient());
      Tensor grads = s.weights.grads();
      EXPECT_NO_THROW(clip_grad_norm_async(grads, 5.0));
      EXPECT_NO_THROW(s.sgd.step());
    }
  }
}

// A non-finite ‖v‖ (second order) stops the step at its host sync, named.
TEST(CapturedSearchStep, ANonFiniteHessianDirectionStopsTheStep) {
  Searcher s(Device::cpu());
  const Tensor xt = random_images({4, 3, 8, 8}, 1, Device::cpu());
  const Tensor yt = labels_for(4, 0, Device::cpu());
  const WeightPass pass = weight_pass(s.net, xt, yt);
  ArchStepValues arch{Tensor::full({1}, 2.0), Tensor::full({1}, std::nan(""), DType::f64)};
  try {
    finish_weight_step(s.net, s.sgd, pass, arch, yt, 5.0, "epoch 1, step 3");
    FAIL() << "a NaN ‖v‖ was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.message()).find("Hessian term"), std::string::npos) << e.message();
  }
}

// Eager steps and graph-replayed ones on two copies of a network: bit-identical after every step.
// Steps before `frozen` have α (and β) frozen: the weight pass alone. Then step frozen (eager),
// frozen + 1 (capture + replay), replays, frozen + 4: a short batch (eager fallback), a replay.
// The weights' lr changes before step frozen + 3 (an epoch's schedule): second order captures its
// α pass again with the new ξ. `one_stream`: the eager steps run without side streams
// (runtime/side_stream.h), the reference for the replays' weight gradients on the side stream.
void expect_replays_match_eager_steps(const SearchConfig& network, int frozen,
                                      const ArchitectConfig& arch = {}, bool one_stream = false) {
  const Device gpu = Device::cuda(0);
  Searcher eager(gpu, arch, network), graphed(gpu, arch, network);
  CapturedSearchStep captured(graphed.net, graphed.architect, graphed.sgd, 5.0);
  for (int step = 0; step < frozen + 6; ++step) {
    if (step == frozen + 3) {
      eager.sgd.set_lr(0.02);
      graphed.sgd.set_lr(0.02);
    }
    const int64_t n = step == frozen + 4 ? 3 : 4;
    const Tensor xt = random_images({n, 3, 8, 8}, 100 + step, gpu);
    const Tensor xv = random_images({n, 3, 8, 8}, 200 + step, gpu);
    const Tensor yt = labels_for(n, step, gpu), yv = labels_for(n, step + 3, gpu);
    const bool arch_frozen = step < frozen;
    const SearchStepResult a = [&] {
      SideStreamsSwitch streams(!one_stream);
      return arch_frozen ? frozen_arch_step(eager.net, eager.sgd, xt, yt, 5.0)
                         : search_step(eager.net, eager.architect, eager.sgd, xt, yt, xv, yv, 5.0);
    }();
    const SearchStepResult b =
        arch_frozen ? captured.frozen_step(xt, yt) : captured.step(xt, yt, xv, yv);
    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_EQ(a.loss, b.loss);
    EXPECT_EQ(a.correct, b.correct);
    EXPECT_EQ(host(eager.weights.weights()), host(graphed.weights.weights()));
    EXPECT_EQ(host(eager.alphas.weights()), host(graphed.alphas.weights()));  // α and β
    EXPECT_EQ(captured.weight_pass_captured(), step >= 1);
    EXPECT_EQ(captured.captured(), step >= frozen + 1);
  }
}

TEST(CapturedSearchStep, CudaReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(Searcher::config(), 0);
}

TEST(CapturedSearchStep, CudaSecondOrderReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(Searcher::config(), 0, second_order());
}

// Weight gradients beside the input gradients on a second stream, eager (the graphed network's
// first step) and replayed, against every kernel on one stream: the same values bit for bit.
TEST(CapturedSearchStep, CudaSideStreamStepsAreBitIdenticalToOneStreamSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "side streams need a GPU: " << why;
  expect_replays_match_eager_steps(Searcher::config(), 1, {}, true);
  expect_replays_match_eager_steps(Searcher::config(), 0, second_order(), true);
}

// PC-DARTS: β trained by the captured α pass, and warm-up steps with α and β frozen.
TEST(CapturedSearchStep, CudaReplayIsBitIdenticalToEagerStepsForPcDarts) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(Searcher::pc_darts_config(), 3);
}

}  // namespace
}  // namespace autonet::darts
