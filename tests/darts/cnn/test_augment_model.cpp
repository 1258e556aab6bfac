// The derived (augment) network against the official model.py (reference darts.md §5, §6):
// parameter counts, names, genotype-built cells of any size, drop path, auxiliary head.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "darts/cnn/augment_model.h"
#include "darts/cnn/cell_layout.h"
#include "darts/cnn/drop_path.h"
#include "darts/cnn/ops.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/darts/cnn/model_inputs.h"

namespace autonet::darts {
namespace {

// tiny_augment_config() on one input channel, without the auxiliary head: for 8×8 inputs.
AugmentConfig grey_headless_config() {
  AugmentConfig c = tiny_augment_config();
  c.auxiliary = false;
  c.input_channels = 1;
  return c;
}

// §5.3, §6: 3,349,342 without the head, 476,426 for the head.
TEST(AugmentNetwork, DartsV2MatchesTheOfficialCounts) {
  ParameterStore weights;
  AugmentNetwork net(AugmentConfig{}, published_cnn_genotype("DARTS_V2"), weights);
  EXPECT_EQ(net.parameter_count(), 3349342);
  EXPECT_EQ(format_param_size_mb(net.parameter_count()), "3.349342MB");
  EXPECT_EQ(net.auxiliary_parameter_count(), 476426);
  EXPECT_EQ(weights.num_parameters(), 3825768);

  std::vector<size_t> reductions;
  for (size_t i = 0; i < net.num_cells(); ++i)
    if (net.cell(i).reduction()) reductions.push_back(i);
  EXPECT_EQ(reductions, (std::vector<size_t>{6, 13}));
  EXPECT_EQ(net.cell(5).out_channels(), 144);
  EXPECT_EQ(net.cell(13).out_channels(), 576);
  EXPECT_EQ(net.cell(19).out_channels(), 576);

  // Names and order as model.py registers them: stem, cells, auxiliary_head, classifier.
  EXPECT_EQ(weights.parameter("stem.0.weight").shape(), (Shape{108, 3, 3, 3}));
  EXPECT_EQ(weights.parameter("cells.0._ops.0.op.1.weight").shape(), (Shape{36, 1, 3, 3}));
  EXPECT_EQ(weights.parameter("cells.0._ops.7.op.1.weight").shape(), (Shape{36, 1, 3, 3}));
  EXPECT_TRUE(weights.contains("cells.0._ops.0.op.3.weight"));  // affine BN
  EXPECT_TRUE(weights.contains("cells.7.preprocess0.conv_1.weight"));
  EXPECT_TRUE(weights.contains("cells.14.preprocess0.bn.weight"));
  EXPECT_EQ(weights.parameter("auxiliary_head.features.2.weight").shape(),
            (Shape{128, 576, 1, 1}));
  EXPECT_EQ(weights.parameter("auxiliary_head.features.5.weight").shape(),
            (Shape{768, 128, 2, 2}));
  EXPECT_EQ(weights.parameter("auxiliary_head.classifier.weight").shape(), (Shape{10, 768}));
  EXPECT_EQ(weights.parameter("classifier.weight").shape(), (Shape{10, 576}));
  const auto named = weights.named_parameters();
  EXPECT_EQ(named.front().first, "stem.0.weight");
  EXPECT_EQ(named[named.size() - 3].first, "auxiliary_head.classifier.bias");
  EXPECT_EQ(named.back().first, "classifier.bias");

  // Reduction cell: pools have no BN; skip from node 2 is an identity, from node 0/1 not used.
  const AugmentCell& reduce = net.cell(6);
  EXPECT_NE(dynamic_cast<const Pool3x3*>(&reduce.op(0)), nullptr);
  EXPECT_TRUE(is_identity(reduce.op(2)));
  EXPECT_FALSE(weights.contains("cells.6._ops.0.1.running_mean"));
  // Normal cell: skip_connect from node 0 is an identity (stride 1).
  EXPECT_TRUE(is_identity(net.cell(0).op(5)));
}

TEST(AugmentNetwork, WithoutAuxiliaryThereIsNoHead) {
  AugmentConfig c;
  c.auxiliary = false;
  ParameterStore weights;
  AugmentNetwork net(c, published_cnn_genotype("DARTS_V2"), weights);
  EXPECT_EQ(net.parameter_count(), 3349342);
  EXPECT_EQ(net.auxiliary_parameter_count(), 0);
  EXPECT_EQ(weights.num_parameters(), 3349342);
}

TEST(AugmentNetwork, ForwardBackwardWithAuxiliaryHead) {
  ParameterStore weights(5);
  AugmentNetwork net(tiny_augment_config(), published_cnn_genotype("DARTS_V2"), weights);
  net.set_drop_path_prob(0.2);
  // 32×32 so that the head sees 8×8 after the second reduction (cell ⌊2L/3⌋ = 2).
  const Variable x = random_input({2, 3, 32, 32}, 6);
  const AugmentNetwork::Output out = net.forward_all(x);
  ASSERT_TRUE(out.aux_logits.defined());
  EXPECT_EQ(out.logits.shape(), (Shape{2, 10}));
  EXPECT_EQ(out.aux_logits.shape(), (Shape{2, 10}));
  const Tensor y = labels({0, 9});
  backward(add(cross_entropy(out.logits, y), scale(cross_entropy(out.aux_logits, y), 0.4)));
  for (const char* name : {"stem.0.weight", "cells.0._ops.0.op.1.weight",
                           "auxiliary_head.features.2.weight", "auxiliary_head.classifier.bias",
                           "classifier.weight"}) {
    double norm = 0;
    for (float g : weights.parameter(name).grad().to_vector<float>()) norm += std::abs(g);
    EXPECT_GT(norm, 0.0) << name;
  }

  // Eval: no auxiliary logits, no drop path (two evaluations agree exactly).
  net.eval();
  NoGradGuard no_grad;
  const AugmentNetwork::Output a = net.forward_all(x), b = net.forward_all(x);
  EXPECT_FALSE(a.aux_logits.defined());
  EXPECT_EQ(a.logits.value().to_vector<float>(), b.logits.value().to_vector<float>());
}

TEST(AugmentNetwork, GenotypesOfAnySizeBuild) {
  ParameterStore weights;
  AugmentNetwork net(grey_headless_config(), published_cnn_genotype("NASNet"), weights);
  EXPECT_EQ(net.cell(0).nodes(), 5);
  EXPECT_EQ(net.cell(0).out_channels(), 5 * 4);   // concat of 5 nodes
  EXPECT_EQ(net.cell(1).out_channels(), 3 * 8);   // reduction: concat [4, 5, 6]
  EXPECT_TRUE(is_identity(net.cell(1).op(6)));    // skip from node 3 in a reduction cell
  EXPECT_EQ(weights.parameter("cells.1._ops.1.op.1.weight").shape(), (Shape{8, 1, 7, 7}));
  const Variable logits = net.forward(random_input({2, 1, 8, 8}, 9));
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
}

TEST(AugmentNetwork, AmoebaNetBuildsWithItsFactorisedConv) {
  ParameterStore weights;
  AugmentNetwork net(grey_headless_config(), published_cnn_genotype("AmoebaNet"), weights);
  EXPECT_EQ(net.cell(0).nodes(), 5);
  EXPECT_EQ(net.cell(0).out_channels(), 3 * 4);  // normal concat [4, 5, 6]
  EXPECT_EQ(net.cell(1).out_channels(), 3 * 8);  // reduce concat [3, 4, 6]
  // Reduction pair 8 is conv_7x1_1x7 from node 0: operations.py's bare Sequential (no `.op`)
  // of ReLU, a 1×7 and a 7×1 conv, BN.
  EXPECT_EQ(weights.parameter("cells.1._ops.8.1.weight").shape(), (Shape{8, 8, 1, 7}));
  EXPECT_EQ(weights.parameter("cells.1._ops.8.2.weight").shape(), (Shape{8, 8, 7, 1}));
  const Variable logits = net.forward(random_input({2, 1, 8, 8}, 9));
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
}

TEST(AugmentNetwork, DropPathDrawsOnlyForNonIdentityOps) {
  ParameterStore weights;
  AugmentNetwork net(tiny_augment_config(), published_cnn_genotype("DARTS_V2"), weights);
  const Variable x = random_input({2, 3, 32, 32}, 3);
  PhiloxGenerator& rng = net.drop_path_rng();
  // DARTS_V2 at L = 3: cell 0 normal (6 non-identity ops of 8), cells 1, 2 reduce (5 of 8).
  // Each draw of 2 numbers takes one Philox block.
  net.set_drop_path_prob(0.3);
  NoGradGuard no_grad;
  net.forward(x);
  EXPECT_EQ(rng.offset(), 6u + 5u + 5u);
  // p = 0 or eval: no draws.
  net.set_drop_path_prob(0.0);
  net.forward(x);
  net.set_drop_path_prob(0.3);
  net.eval();
  net.forward(x);
  EXPECT_EQ(rng.offset(), 16u);
  // The same offset replays the same masks: identical outputs.
  net.train();
  rng.set_offset(100);
  const std::vector<float> first = net.forward(x).value().to_vector<float>();
  rng.set_offset(100);
  EXPECT_EQ(net.forward(x).value().to_vector<float>(), first);
}

TEST(DropPath, ZeroesOrScalesWholeSamples) {
  const PhiloxKey key{42, kDropPathStream, 7};
  const double p = 0.4;
  const std::vector<bool> mask = drop_path_mask(64, p, key);
  int kept = 0;
  for (bool m : mask) kept += m;
  EXPECT_GT(kept, 20);
  EXPECT_LT(kept, 60);
  for (int64_t n = 0; n < 64; ++n)
    EXPECT_EQ(mask[n], philox_uniform(key, n) < static_cast<float>(1 - p));

  Tensor t = Tensor::empty({64, 2, 3, 3});
  fill_uniform(t, 0.5, 1.5, 1);
  const Variable x(t, true);
  const Variable y = drop_path(x, p, key);
  const std::vector<float> xv = t.to_vector<float>(), yv = y.value().to_vector<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float expected = mask[i / 18] ? xv[i] / static_cast<float>(1 - p) : 0.0f;
    ASSERT_FLOAT_EQ(yv[i], expected) << i;
  }
  EXPECT_TRUE(drop_path(x, 0.0, key).same(x));
  EXPECT_THROW(drop_path(x, 1.0, key), Error);
}

TEST(DropPath, GradientMatchesFiniteDifferences) {
  const PhiloxKey key{1, kDropPathStream, 0};
  const Variable x = test::leaf({6, 2, 2, 3}, 8);
  test::expect_gradients_match([&] { return drop_path(x, 0.5, key); }, {x});
}

// GPU vs CPU with drop path and the auxiliary head: the Philox masks are the same, so are the
// outputs and gradients, each element within its own rounding, measured against the same network
// in float64.
TEST(AugmentNetwork, CudaMatchesCpu) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  const Tensor x = random_input({4, 3, 32, 32}, 6).value();
  const Tensor y = labels({0, 9, 4, 4});
  struct Result {
    std::vector<double> logits, aux_logits, grads;
  };
  auto run = [&](AugmentNetwork& net, ParameterStore& weights, Device device) {
    weights.to(device);
    weights.zero_grad();
    net.set_drop_path_prob(0.3);
    net.drop_path_rng().set_offset(0);
    const AugmentNetwork::Output out = net.forward_all(Variable(x.to(weights.dtype()).to(device)));
    const Tensor yd = y.to(device);
    backward(add(cross_entropy(out.logits, yd), scale(cross_entropy(out.aux_logits, yd), 0.4)));
    auto host = [](const Tensor& t) { return t.to(Device::cpu()).to(DType::f64).to_vector<double>(); };
    return Result{host(out.logits.value()), host(out.aux_logits.value()), host(weights.grads())};
  };
  ParameterStore weights(5), weights64(5, DType::f64);
  AugmentNetwork net(tiny_augment_config(), published_cnn_genotype("DARTS_V2"), weights);
  AugmentNetwork net64(tiny_augment_config(), published_cnn_genotype("DARTS_V2"), weights64);
  weights64.weights().copy_from(weights.weights().to(DType::f64));  // the same float32 values
  const Result reference = run(net64, weights64, Device::cpu());
  const Result cpu = run(net, weights, Device::cpu());
  const Result gpu = run(net, weights, Device::cuda());
  auto whole = [](const std::vector<double>& v) {
    return std::vector<test::Group>{{0, static_cast<int64_t>(v.size())}};
  };
  expect_within_measured_bounds(gpu.logits, cpu.logits, reference.logits, whole(cpu.logits), "logits");
  expect_within_measured_bounds(gpu.aux_logits, cpu.aux_logits, reference.aux_logits,
                                whole(cpu.aux_logits), "auxiliary logits");
  expect_within_measured_bounds(gpu.grads, cpu.grads, reference.grads, parameter_groups(weights),
                                "weight gradients");
  weights.to(Device::cpu());
}

}  // namespace
}  // namespace autonet::darts
