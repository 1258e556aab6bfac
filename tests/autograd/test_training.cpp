// End to end on the CPU: the small separable-conv CNN learns a two-class synthetic task with
// plain SGD written over the flat buffers (w ← w − lr·g is one axpby over the whole model).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace autonet
