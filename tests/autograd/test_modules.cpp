// Modules: parameter names, order and count, initialisation bounds, train/eval behaviour, and
// gradients of whole models against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/modules.h"
#include "gradcheck.h"
#include "small_cnn.h"

namespace autonet {
namespace {
using test::expect_gradients_match;
using test::leaf;

TEST(Modules, NamesOrderAndCountFollowTheModuleTree) {
  ParameterStore store(5);
  test::SmallCnn net(store, 3, 8, 2);
  std::vector<std::string> names;
  for (const auto& [name, var] : store.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "stem.0.weight", "stem.1.weight", "stem.1.bias",                     //
                       "cells.0.op.1.weight", "cells.0.op.2.weight", "cells.0.op.3.weight",  //
                       "cells.0.op.3.bias", "cells.1.op.1.weight", "cells.1.op.2.weight",    //
                       "cells.1.op.3.weight", "cells.1.op.3.bias", "classifier.weight",      //
                       "classifier.bias"}));
  // conv 8·3·3·3 + BN 2·8 + 2 × (depthwise 8·9 + pointwise 8·8 + BN 2·8) + linear 2·8 + 2.
  EXPECT_EQ(store.num_parameters(), 216 + 16 + 2 * (72 + 64 + 16) + 18);
  EXPECT_TRUE(store.buffer("cells.1.op.3.running_var").defined());
  EXPECT_EQ(store.parameter("cells.0.op.1.weight").shape(), (Shape{8, 1, 3, 3}));
  EXPECT_EQ(net.children().size(), 4u);
  EXPECT_EQ(net.stem.size(), 2u);
}

TEST(Modules, InitialisationFollowsPyTorch03) {
  ParameterStore store(6);
  Conv2d conv(store, "conv", 4, 6, 3);
  DepthwiseConv2d dw(store, "dw", 16, 5);
  Linear fc(store, "fc", 10, 3);
  BatchNorm2d bn(store, "bn", 5);
  auto max_abs = [](const Variable& v) {
    double m = 0;
    for (float x : v.value().to_vector<float>()) m = std::max(m, std::abs(double(x)));
    return m;
  };
  EXPECT_LE(max_abs(conv.weight), 1 / std::sqrt(36.0));
  EXPECT_GT(max_abs(conv.weight), 0.8 / std::sqrt(36.0));  // uses the range, not a constant
  EXPECT_FALSE(conv.bias.defined());                       // DARTS convs have no bias
  EXPECT_LE(max_abs(dw.weight), 1 / std::sqrt(16 * 25.0));  // all input channels in the fan-in
  EXPECT_LE(max_abs(fc.weight), 1 / std::sqrt(10.0));
  EXPECT_LE(max_abs(fc.bias), 1 / std::sqrt(10.0));
  for (float w : bn.weight.value().to_vector<float>()) {
    EXPECT_GE(w, 0.0f);
    EXPECT_LT(w, 1.0f);
  }
  EXPECT_EQ(bn.bias.value().to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn.running_var.value().to_vector<float>(), std::vector<float>(5, 1.0f));
  BatchNorm2d plain(store, "plain", 5, /*affine=*/false);
  EXPECT_FALSE(plain.weight.defined());
  EXPECT_TRUE(store.contains("plain.running_mean"));
}

TEST(Modules, TrainAndEvalReachEveryDescendant) {
  ParameterStore store(7, DType::f64);
  test::SmallCnn net(store, 3, 4, 2);
  net.eval();
  EXPECT_FALSE(net.cell1.bn.training());
  EXPECT_FALSE(net.stem[1].training());
  net.train();
  EXPECT_TRUE(net.cell1.bn.training());

  // Training updates the running statistics; eval uses and keeps them.
  Variable x = leaf({4, 3, 6, 6}, 8, -1.0, 3.0, false);
  const auto before = net.cell0.bn.running_mean.value().to_vector<double>();
  net(x);
  const auto after = net.cell0.bn.running_mean.value().to_vector<double>();
  EXPECT_NE(before, after);
  net.eval();
  const auto y1 = net(x).value().to_vector<double>();
  const auto y2 = net(x).value().to_vector<double>();
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(net.cell0.bn.running_mean.value().to_vector<double>(), after);
}

TEST(Modules, DropoutIsIdentityInEval) {
  Dropout drop("drop", 0.5, 1, 2);
  Variable x = leaf({3, 10}, 9);
  drop.eval();
  EXPECT_TRUE(drop(x).same(x));
  drop.train();
  const auto a = drop(x).value().to_vector<double>();
  const auto b = drop(x).value().to_vector<double>();
  EXPECT_NE(a, b);  // each call draws a fresh key
}

TEST(Modules, MlpGradientsMatchFiniteDifferences) {
  ParameterStore store(10, DType::f64);
  Linear fc1(store, "fc1", 4, 6), fc2(store, "fc2", 6, 3);
  Variable x = leaf({5, 4}, 11);
  const Tensor targets = Tensor::from_vector<int64_t>({0, 2, 1, 1, 2}, {5});
  std::vector<Variable> inputs{x};
  for (const auto& [name, var] : store.named_parameters()) inputs.push_back(var);
  expect_gradients_match([&] { return cross_entropy(fc2(tanh(fc1(x))), targets); }, inputs);
}

TEST(Modules, ConvBnReluPoolLinearChainMatchesFiniteDifferences) {
  ParameterStore store(12, DType::f64);
  Conv2d conv(store, "conv", 2, 3, 3, 1, 1, 1, /*bias=*/true);
  BatchNorm2d bn(store, "bn", 3);
  Linear fc(store, "fc", 3 * 3 * 3, 4);
  Variable x = leaf({3, 2, 6, 6}, 13);
  const Tensor targets = Tensor::from_vector<int64_t>({3, 0, 1}, {3});
  auto f = [&] {
    Variable h = max_pool2d(relu(bn(conv(x))), 2, 2, 0);  // [3, 3, 3, 3]
    return cross_entropy(fc(view(h, {3, -1})), targets, 0.1);
  };
  std::vector<Variable> inputs{x};
  for (const auto& [name, var] : store.named_parameters()) inputs.push_back(var);
  expect_gradients_match(f, inputs, 1e-5, 30);
}

}  // namespace
}  // namespace autonet
