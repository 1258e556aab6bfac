// The graph-replayed first-order step (darts/captured_step.h) against the eager search_step: the
// same kernels in the same order, so weights, α and every reported value must be bit-identical.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/architect.h"
#include "darts/captured_step.h"
#include "darts/search_model.h"
#include "darts/search_trainer.h"
#include "kernels/elementwise.h"
#include "runtime/device.h"

namespace autonet::darts {
namespace {

Tensor random_images(const Shape& shape, uint64_t seed, Device device) {
  Tensor t = Tensor::empty(shape);
  fill_uniform(t, -1.0, 1.0, seed);
  return t.to(device);
}

Tensor labels_for(int64_t n, int64_t shift, Device device) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = (i * 7 + shift) % 10;
  return Tensor::from_vector(v, {n}).to(device);
}

// One network with its optimizers, on `device`, initialised from fixed seeds.
struct Searcher {
  ParameterStore weights{21}, alphas{22};
  SearchNetwork net;
  bool placed;  // the stores move to the device before the optimizers take their buffers
  Sgd sgd;
  Architect architect;

  static SearchConfig config() {
    SearchConfig c;
    c.channels = 4;
    c.layers = 3;
    return c;
  }
  static SgdOptions sgd_options() {
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 3e-4;
    return o;
  }
  bool place(Device device) {
    weights.to(device);
    alphas.to(device);
    return true;
  }
  explicit Searcher(Device device)
      : net(config(), weights, alphas),
        placed(place(device)),
        sgd(weights.weights(), weights.grads(), sgd_options()),
        architect(net, sgd, ArchitectConfig{}) {}
};

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

TEST(CapturedSearchStep, RefusesCpuNetworksAndSecondOrder) {
  Searcher s(Device::cpu());
  EXPECT_THROW(CapturedSearchStep(s.net, s.architect, s.sgd, 5.0), Error);
  ArchitectConfig unrolled;
  unrolled.unrolled = true;
  Architect second(s.net, s.sgd, unrolled);
  EXPECT_THROW(CapturedSearchStep(s.net, second, s.sgd, 5.0), Error);
}

TEST(CapturedSearchStep, CudaReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  const Device gpu = Device::cuda(0);
  Searcher eager(gpu), graphed(gpu);
  CapturedSearchStep captured(graphed.net, graphed.architect, graphed.sgd, 5.0);
  // Steps 0 (eager), 1 (capture + replay), 2–4 (replays), 5: a short batch (eager fallback),
  // 6: a replay again.
  for (int step = 0; step < 7; ++step) {
    const int64_t n = step == 5 ? 3 : 4;
    const Tensor xt = random_images({n, 3, 8, 8}, 100 + step, gpu);
    const Tensor xv = random_images({n, 3, 8, 8}, 200 + step, gpu);
    const Tensor yt = labels_for(n, step, gpu), yv = labels_for(n, step + 3, gpu);
    const SearchStepResult a =
        search_step(eager.net, eager.architect, eager.sgd, xt, yt, xv, yv, 5.0);
    const SearchStepResult b = captured.step(xt, yt, xv, yv);
    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_EQ(a.loss, b.loss);
    EXPECT_EQ(a.correct, b.correct);
    EXPECT_EQ(host(eager.weights.weights()), host(graphed.weights.weights()));
    EXPECT_EQ(host(eager.alphas.weights()), host(graphed.alphas.weights()));
    EXPECT_EQ(captured.captured(), step >= 1);
  }
}

}  // namespace
}  // namespace autonet::darts
