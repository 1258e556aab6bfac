// End to end on the CPU: the small separable-conv CNN learns a two-class synthetic task with
// plain SGD written over the flat buffers (w ← w − lr·g is one axpby over the whole model).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/modules.h"
#include "kernels/elementwise.h"
#include "small_cnn.h"

namespace autonet {
namespace {

// Images [n, 3, 8, 8] of Philox noise; class 1 is brighter in channel 0, class 0 in channel 1.
struct Batch {
  Tensor images, labels;
};
Batch make_batch(int64_t n, uint64_t seed) {
  Batch b{Tensor::empty({n, 3, 8, 8}), Tensor::empty({n}, DType::i64)};
  fill_normal(b.images, 0.0, 1.0, seed);
  float* x = b.images.data<float>();
  int64_t* y = b.labels.data<int64_t>();
  const PhiloxKey key{seed, 77, 0};
  for (int64_t i = 0; i < n; ++i) {
    y[i] = philox_bits(key, i) & 1;
    const int64_t channel = y[i] == 1 ? 0 : 1;
    for (int64_t p = 0; p < 64; ++p) x[(i * 3 + channel) * 64 + p] += 0.6f;
  }
  return b;
}

double eval_loss(test::SmallCnn& net, const Batch& b) {
  NoGradGuard guard;
  net.eval();
  const double loss = cross_entropy(net(Variable(b.images)), b.labels).value().item();
  net.train();
  return loss;
}

TEST(Training, SmallCnnLearnsWithSgdOnFlatBuffers) {
  ParameterStore store(2024);
  test::SmallCnn net(store, 3, 8, 2);
  std::vector<Batch> train;
  for (uint64_t s = 0; s < 4; ++s) train.push_back(make_batch(32, 100 + s));
  const Batch held_out = make_batch(64, 999);

  // Settle the BN running statistics first so the eval loss at the start is meaningful.
  {
    NoGradGuard guard;
    for (const Batch& b : train) net(Variable(b.images));
  }
  const double initial = eval_loss(net, held_out);
  const double lr = 0.1;
  for (int step = 0; step < 60; ++step) {
    const Batch& b = train[step % train.size()];
    store.zero_grad();
    Variable loss = cross_entropy(net(Variable(b.images)), b.labels);
    backward(loss);
    Tensor w = store.weights();
    axpby(-lr, store.grads(), 1.0, w);
  }
  const double final_loss = eval_loss(net, held_out);
  EXPECT_LT(final_loss, 0.5 * initial) << "initial " << initial << ", final " << final_loss;
}

// The same model and batch on the GPU and the CPU: loss, every parameter gradient and the BN
// running statistics agree (float32, different summation orders).
TEST(Training, CudaStepMatchesCpu) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  ParameterStore cpu_store(31), gpu_store(31);
  test::SmallCnn cpu_net(cpu_store, 3, 8, 2), gpu_net(gpu_store, 3, 8, 2);
  gpu_store.to(Device::cuda());
  const Batch b = make_batch(16, 5);
  cpu_store.zero_grad();
  gpu_store.zero_grad();
  Variable cpu_loss = cross_entropy(cpu_net(Variable(b.images)), b.labels, 0.1);
  Variable gpu_loss = cross_entropy(gpu_net(Variable(b.images.to(Device::cuda()))),
                                    b.labels.to(Device::cuda()), 0.1);
  backward(cpu_loss);
  backward(gpu_loss);
  EXPECT_NEAR(gpu_loss.value().item(), cpu_loss.value().item(), 1e-4);
  const auto cpu_grads = cpu_store.grads().to_vector<float>();
  const auto gpu_grads = gpu_store.grads().to_vector<float>();
  ASSERT_EQ(cpu_grads.size(), gpu_grads.size());
  for (size_t i = 0; i < cpu_grads.size(); ++i)
    ASSERT_NEAR(gpu_grads[i], cpu_grads[i], 1e-4 + 1e-3 * std::abs(cpu_grads[i])) << "grad " << i;
  const auto cpu_tensors = cpu_store.named_tensors(), gpu_tensors = gpu_store.named_tensors();
  for (size_t t = 0; t < cpu_tensors.size(); ++t) {
    const auto a = cpu_tensors[t].second.to_vector<float>();
    const auto g = gpu_tensors[t].second.to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(g[i], a[i], 1e-4 + 1e-4 * std::abs(a[i])) << cpu_tensors[t].first << " " << i;
  }
}

}  // namespace
}  // namespace autonet
