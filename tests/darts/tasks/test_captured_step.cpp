// The graph-replayed first-order step (darts/tasks/captured_step.h) against the eager search_step:
// the same kernels in the same order, so weights, α and every reported value must be bit-identical.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/captured_step.h"
#include "darts/tasks/search_trainer.h"
#include "kernels/elementwise.h"
#include "runtime/device.h"
#include "tests/darts/tiny_searcher.h"

namespace autonet::darts {
namespace {

using test::labels_for;
using test::random_images;
using Searcher = test::TinySearcher;

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

TEST(CapturedSearchStep, RefusesCpuNetworksAndSecondOrder) {
  Searcher s(Device::cpu());
  EXPECT_THROW(CapturedSearchStep(s.net, s.architect, s.sgd, 5.0), Error);
  ArchitectConfig unrolled;
  unrolled.unrolled = true;
  Architect second(s.net, s.sgd, unrolled);
  EXPECT_THROW(CapturedSearchStep(s.net, second, s.sgd, 5.0), Error);
}

// Eager steps and graph-replayed ones on two copies of a network: bit-identical after every step.
// Steps before `frozen` have α (and β) frozen: the weight pass alone. Then step frozen (eager),
// frozen + 1 (capture + replay), replays, frozen + 4: a short batch (eager fallback), a replay.
void expect_replays_match_eager_steps(const SearchConfig& network, int frozen) {
  const Device gpu = Device::cuda(0);
  Searcher eager(gpu, {}, network), graphed(gpu, {}, network);
  CapturedSearchStep captured(graphed.net, graphed.architect, graphed.sgd, 5.0);
  for (int step = 0; step < frozen + 6; ++step) {
    const int64_t n = step == frozen + 4 ? 3 : 4;
    const Tensor xt = random_images({n, 3, 8, 8}, 100 + step, gpu);
    const Tensor xv = random_images({n, 3, 8, 8}, 200 + step, gpu);
    const Tensor yt = labels_for(n, step, gpu), yv = labels_for(n, step + 3, gpu);
    const bool arch_frozen = step < frozen;
    const SearchStepResult a =
        arch_frozen ? frozen_arch_step(eager.net, eager.sgd, xt, yt, 5.0)
                    : search_step(eager.net, eager.architect, eager.sgd, xt, yt, xv, yv, 5.0);
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

// PC-DARTS: β trained by the captured α pass, and warm-up steps with α and β frozen.
TEST(CapturedSearchStep, CudaReplayIsBitIdenticalToEagerStepsForPcDarts) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(Searcher::pc_darts_config(), 3);
}

}  // namespace
}  // namespace autonet::darts
