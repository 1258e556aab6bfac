// The recurrent models on the GPU against the CPU: same seeds, same Philox dropout masks, so the
// logits, the loss and every gradient agree up to float32 summation order (cuBLAS and OpenBLAS
// block their sums differently).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "autograd/functions.h"
#include "darts/genotype/genotype.h"
#include "darts/rnn/model.h"
#include "runtime/device.h"

namespace autonet::darts {
namespace {

struct Outcome {
  double loss = 0;
  std::vector<float> logits, weight_grads, alpha_grads;
};

RnnConfig small_config() {
  RnnConfig c;
  c.vocabulary = 50;
  c.emsize = c.nhid = 16;
  c.dropoute = 0.1;  // every dropout on
  c.seed = 5;
  return c;
}

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

// A fresh model (so both devices draw the same masks), one segment forward, loss, backward.
Outcome run_on(Device device, bool search) {
  ParameterStore weights(31), alphas(32);
  std::unique_ptr<RnnModel> built =
      search ? std::make_unique<RnnModel>(small_config(), weights, alphas)
             : std::make_unique<RnnModel>(small_config(), weights,
                                          published_rnn_genotype("DARTS_V2"));
  RnnModel& model = *built;
  weights.to(device);
  alphas.to(device);
  const int64_t steps = 6, batch = 4;
  std::vector<int64_t> ids, next;
  for (int64_t i = 0; i < steps * batch; ++i) {
    ids.push_back((7 * i + 3) % 50);
    next.push_back((7 * i + 10) % 50);
  }
  const Tensor input = Tensor::from_vector(ids, {steps, batch}).to(device);
  const Tensor targets = Tensor::from_vector(next, {steps * batch}).to(device);
  weights.zero_grad();
  if (search) alphas.zero_grad();
  const RnnForward f = model.run(input, model.initial_hidden(batch));
  const RnnLoss loss = rnn_loss(f, targets, 0.0, 1e-3);
  backward(loss.total);
  Outcome out;
  out.loss = loss.total.value().item();
  out.logits = host(f.logits.value());
  out.weight_grads = host(weights.grads());
  if (search) out.alpha_grads = host(alphas.grads());
  return out;
}

void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu,
                  const char* what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < cpu.size(); ++i)
    if (!(std::abs(gpu[i] - cpu[i]) <= 1e-5 + 1e-3 * std::abs(cpu[i])) && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: cuda " << gpu[i] << ", cpu " << cpu[i];
  EXPECT_EQ(bad, 0) << what;
}

void expect_devices_agree(bool search) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  const Outcome cpu = run_on(Device::cpu(), search);
  const Outcome gpu = run_on(Device::cuda(0), search);
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-5 * std::abs(cpu.loss));
  expect_close(gpu.logits, cpu.logits, "logits");
  expect_close(gpu.weight_grads, cpu.weight_grads, "weight gradients");
  expect_close(gpu.alpha_grads, cpu.alpha_grads, "α gradients");
}

TEST(RnnModel, SearchModelCudaMatchesCpu) { expect_devices_agree(true); }
TEST(RnnModel, DerivedModelCudaMatchesCpu) { expect_devices_agree(false); }

}  // namespace
}  // namespace autonet::darts
