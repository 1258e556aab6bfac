// The search network against the official structure (reference darts.md §1, §2, §6, §11):
// parameter counts, names, shapes, edge wiring, gradients to α and the weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "autograd/functions.h"
#include "darts/cnn/ops.h"
#include "darts/cnn/search_model.h"
#include "darts/primitives.h"
#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/darts/cnn/model_inputs.h"
#include "tests/darts/parameter_counts.h"

namespace autonet::darts {
namespace {

TEST(SearchOps, PrimitivesAreInTheOfficialOrder) {
  EXPECT_EQ(cnn_primitives(),
            (std::vector<std::string>{"none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
                                      "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
                                      "dil_conv_5x5"}));
}

// §1.4: parameters per op, affine=False (search) and affine=True (augment).
TEST(SearchOps, ParameterCountsPerOp) {
  const int64_t c = 8;
  const std::map<std::string, std::pair<int64_t, int64_t>> expected = {
      // op: {search, augment} at stride 1
      {"none", {0, 0}},
      {"max_pool_3x3", {0, 0}},
      {"avg_pool_3x3", {0, 0}},
      {"skip_connect", {0, 0}},
      {"sep_conv_3x3", {2 * (9 * c + c * c), 2 * (9 * c + c * c) + 4 * c}},
      {"sep_conv_5x5", {2 * (25 * c + c * c), 2 * (25 * c + c * c) + 4 * c}},
      {"sep_conv_7x7", {2 * (49 * c + c * c), 2 * (49 * c + c * c) + 4 * c}},
      {"dil_conv_3x3", {9 * c + c * c, 9 * c + c * c + 2 * c}},
      {"dil_conv_5x5", {25 * c + c * c, 25 * c + c * c + 2 * c}},
      {"conv_7x1_1x7", {14 * c * c, 14 * c * c + 2 * c}},
  };
  for (const auto& [op, counts] : expected) {
    ParameterStore search, augment;
    make_op(search, "op", op, c, 1, OpContext::search);
    make_op(augment, "op", op, c, 1, OpContext::augment);
    EXPECT_EQ(search.num_parameters(), counts.first) << op;
    EXPECT_EQ(augment.num_parameters(), counts.second) << op;
  }
  // skip_connect at stride 2 is FactorizedReduce(C, C): C² (+2C affine).
  ParameterStore search, augment;
  make_op(search, "op", "skip_connect", c, 2, OpContext::search);
  make_op(augment, "op", "skip_connect", c, 2, OpContext::augment);
  EXPECT_EQ(search.num_parameters(), c * c);
  EXPECT_EQ(augment.num_parameters(), c * c + 2 * c);
}

// §1.4 / §11 #11: one search MixedOp.
TEST(SearchOps, MixedOpParameterSums) {
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> cases = {
      {16, 1, 3168}, {32, 1, 9408}, {32, 2, 10432}, {64, 1, 31104}, {64, 2, 35200}};
  for (const auto& [c, stride, expected] : cases) {
    ParameterStore store;
    MixedOp op(store, "m", c, stride);
    EXPECT_EQ(store.num_parameters(), expected) << "C=" << c << " stride " << stride;
  }
}

// Names as in operations.py / model_search.py.
TEST(SearchOps, ParameterNamesFollowTheOfficialModules) {
  ParameterStore store;
  MixedOp op(store, "cells.0._ops.4", 16, 2);
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"cells.0._ops.4._ops.3.conv_1.weight", {8, 16, 1, 1}},
      {"cells.0._ops.4._ops.3.conv_2.weight", {8, 16, 1, 1}},
      {"cells.0._ops.4._ops.4.op.1.weight", {16, 1, 3, 3}},
      {"cells.0._ops.4._ops.4.op.2.weight", {16, 16, 1, 1}},
      {"cells.0._ops.4._ops.4.op.5.weight", {16, 1, 3, 3}},
      {"cells.0._ops.4._ops.4.op.6.weight", {16, 16, 1, 1}},
      {"cells.0._ops.4._ops.5.op.1.weight", {16, 1, 5, 5}},
      {"cells.0._ops.4._ops.6.op.1.weight", {16, 1, 3, 3}},
      {"cells.0._ops.4._ops.7.op.1.weight", {16, 1, 5, 5}},
      {"cells.0._ops.4._ops.7.op.2.weight", {16, 16, 1, 1}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(store.contains(name)) << name;
    EXPECT_EQ(store.parameter(name).shape(), shape) << name;
  }
  // Affine-free BNs keep running statistics only; the pools' BN is layer 1 of a Sequential.
  EXPECT_NO_THROW(store.buffer("cells.0._ops.4._ops.1.1.running_mean"));
  EXPECT_NO_THROW(store.buffer("cells.0._ops.4._ops.2.1.running_var"));
  EXPECT_NO_THROW(store.buffer("cells.0._ops.4._ops.3.bn.running_mean"));
  EXPECT_NO_THROW(store.buffer("cells.0._ops.4._ops.4.op.3.running_mean"));
  EXPECT_NO_THROW(store.buffer("cells.0._ops.4._ops.4.op.7.running_var"));
  EXPECT_FALSE(store.contains("cells.0._ops.4._ops.4.op.3.weight"));
  // Creation order = the official module order: the FactorizedReduce first, dil_conv_5x5 last.
  const auto named = store.named_parameters();
  EXPECT_EQ(named.front().first, "cells.0._ops.4._ops.3.conv_1.weight");
  EXPECT_EQ(named.back().first, "cells.0._ops.4._ops.7.op.2.weight");

  ParameterStore augment;
  make_op(augment, "x", "conv_7x1_1x7", 6, 2, OpContext::augment);
  EXPECT_EQ(augment.parameter("x.1.weight").shape(), (Shape{6, 6, 1, 7}));
  EXPECT_EQ(augment.parameter("x.2.weight").shape(), (Shape{6, 6, 7, 1}));
  EXPECT_EQ(augment.named_parameters().back().first, "x.3.bias");
}

// §1.3, §11 #19/#20: every op's output shape at stride 1 and 2, even and odd inputs.
TEST(SearchOps, OutputShapes) {
  std::vector<std::string> ops = cnn_primitives();
  ops.push_back("sep_conv_7x7");
  ops.push_back("conv_7x1_1x7");
  const int64_t n = 2, c = 4;
  for (OpContext context : {OpContext::search, OpContext::augment}) {
    for (const std::string& name : ops) {
      for (int64_t stride : {1, 2}) {
        for (int64_t h : {8, 7}) {
          // FactorizedReduce's two phases disagree on odd sizes (as in PyTorch, where the
          // concat fails): stride-2 skip needs even inputs.
          const bool factorized = name == "skip_connect" && stride == 2;
          ParameterStore store;
          auto op = make_op(store, "op", name, c, stride, context);
          const Variable x = random_input({n, c, h, h}, 7);
          const int64_t expected = stride == 1 ? h : (h + 1) / 2;
          if (factorized && h % 2 == 1) {
            EXPECT_THROW(op->forward(x), Error) << name;
            continue;
          }
          const Variable y = op->forward(x);
          EXPECT_EQ(y.shape(), (Shape{n, c, expected, expected}))
              << name << " stride " << stride << " H " << h;
        }
      }
    }
  }
}

TEST(SearchOps, ZeroGivesZerosWithoutAGradientPath) {
  Zero zero("none", 2);
  Tensor t = Tensor::empty({2, 3, 32, 32});
  fill_uniform(t, 0.5, 1.5, 3);
  const Variable x(t, true);
  const Variable y = zero.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 16, 16}));
  for (float v : y.value().to_vector<float>()) ASSERT_EQ(v, 0.0f);
  EXPECT_FALSE(y.requires_grad());
}

// §21: average pooling at a corner divides by 4 real pixels, at an edge by 6.
TEST(SearchOps, AveragePoolExcludesPadding) {
  Pool3x3 pool("p", PoolMode::avg, 1);
  const Variable x(Tensor::full({1, 1, 3, 3}, 1.0));
  const std::vector<float> y = pool.forward(x).value().to_vector<float>();
  for (float v : y) EXPECT_FLOAT_EQ(v, 1.0f);  // any other divisor would not give 1
}

TEST(SearchOps, FactorizedReduceHalvesComeFromTheTwoPhases) {
  // One input channel, constant per phase of the stride-2 grid: the unshifted half sees only
  // (even, even) pixels, the shifted one only (odd, odd).
  ParameterStore store;
  FactorizedReduce fr(store, "fr", 1, 2, false);
  store.parameter("fr.conv_1.weight").value().fill_(1.0);
  store.parameter("fr.conv_2.weight").value().fill_(1.0);
  Tensor t = Tensor::empty({2, 1, 4, 4});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t row = (i / 4) % 4, col = i % 4, n = i / 16;
    p[i] = row % 2 == 0 && col % 2 == 0 ? 1.0f + static_cast<float>(n + row + col)
           : row % 2 == 1 && col % 2 == 1 ? -5.0f  // ReLU zeroes these
                                          : 100.0f;
  }
  const Variable y = fr.forward(Variable(t));
  ASSERT_EQ(y.shape(), (Shape{2, 2, 2, 2}));
  // Channel 1 (shifted phase) sees only ReLU(−5) = 0: constant → BN gives exactly 0.
  const std::vector<float> v = y.value().to_vector<float>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(v[n * 8 + 4 + i], 0.0f);
  // Channel 0 varies (it sees the even-even pixels), so its BN output does too.
  EXPECT_NE(v[0], v[3]);
}

// §2.1: the mixed op is Σ_k w_k·op_k(x) with weight k−1 belonging to primitive k (none skipped).
TEST(SearchOps, MixedOpIsTheWeightedSumInPrimitiveOrder) {
  ParameterStore store(9, DType::f64);
  MixedOp mixed(store, "m", 4, 1);
  const Variable x = random_input({2, 4, 6, 6}, 12, DType::f64);
  std::vector<double> w(7);
  for (size_t k = 0; k < 7; ++k) w[k] = 0.1 * static_cast<double>(k + 1);
  const Variable weights(Tensor::from_vector(w, {7}));
  const std::vector<double> got = mixed.forward(x, weights).value().to_vector<double>();
  std::vector<double> expected(got.size(), 0.0);
  for (size_t k = 1; k < mixed.size(); ++k) {
    const std::vector<double> y = mixed.op(k).forward(x).value().to_vector<double>();
    for (size_t i = 0; i < y.size(); ++i) expected[i] += w[k - 1] * y[i];
  }
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-12) << i;
  EXPECT_TRUE(is_zero(mixed.op(0)));
  EXPECT_TRUE(is_identity(mixed.op(3)));
  EXPECT_THROW(mixed.forward(x, Variable(Tensor::zeros({8}, DType::f64))), Error);
}

TEST(SearchOps, MixedOpWeightsAreSoftmaxRowsWithoutNone) {
  Tensor alpha = Tensor::empty({3, 8}, DType::f64);
  fill_uniform(alpha, -2.0, 2.0, 31);
  const std::vector<double> a = alpha.to_vector<double>();
  const std::vector<Variable> rows = mixed_op_weights(Variable(alpha));
  ASSERT_EQ(rows.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    double total = 0;
    for (size_t k = 0; k < 8; ++k) total += std::exp(a[e * 8 + k]);
    ASSERT_EQ(rows[e].shape(), (Shape{7}));
    const std::vector<double> w = rows[e].value().to_vector<double>();
    for (size_t k = 1; k < 8; ++k)
      EXPECT_NEAR(w[k - 1], std::exp(a[e * 8 + k]) / total, 1e-12) << e << "," << k;
  }
}

TEST(SearchCellLayout, EdgesRowsAndStrides) {
  const std::vector<CellEdge> reduce = search_cell_edges(4, true);
  const std::vector<CellEdge> expected = {
      {2, 0, 2}, {2, 1, 2},                                   // node 2: edges 0–1
      {3, 0, 2}, {3, 1, 2}, {3, 2, 1},                        // node 3: edges 2–4
      {4, 0, 2}, {4, 1, 2}, {4, 2, 1}, {4, 3, 1},             // node 4: edges 5–8
      {5, 0, 2}, {5, 1, 2}, {5, 2, 1}, {5, 3, 1}, {5, 4, 1},  // node 5: edges 9–13
  };
  EXPECT_EQ(reduce, expected);
  for (const CellEdge& e : search_cell_edges(4, false)) EXPECT_EQ(e.stride, 1);
  EXPECT_EQ(search_edge_count(4), 14);
  EXPECT_EQ(search_edge_count(3), 9);
  std::vector<int64_t> reductions;
  for (int64_t i = 0; i < 8; ++i)
    if (is_reduction_cell(i, 8)) reductions.push_back(i);
  EXPECT_EQ(reductions, (std::vector<int64_t>{2, 5}));
}

// §2.3 table, §6, §11 #1/#2/#4/#5.
TEST(SearchNetwork, DefaultNetworkMatchesTheOfficialCounts) {
  ParameterStore weights(0), alphas(1);
  SearchNetwork net(SearchConfig{}, weights, alphas);
  EXPECT_EQ(net.parameter_count(), 1930618);
  EXPECT_EQ(format_param_size_mb(net.parameter_count()), "1.930618MB");
  EXPECT_EQ(weights.num_parameters(), 1930618);  // α is not among the weights

  EXPECT_EQ(count_with_prefix(weights, "stem."), 1392);
  const std::vector<int64_t> cell_params = {45888,  46144,  144000, 137856,
                                            139904, 484608, 460032, 468224};
  ASSERT_EQ(net.num_cells(), 8u);
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ(count_with_prefix(weights, "cells." + std::to_string(i) + "."), cell_params[i])
        << "cell " << i;
  EXPECT_EQ(count_with_prefix(weights, "classifier."), 2570);
  EXPECT_EQ(weights.parameter("classifier.weight").shape(), (Shape{10, 256}));

  const std::vector<int64_t> out_channels = {64, 64, 128, 128, 128, 256, 256, 256};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(net.cell(i).reduction(), i == 2 || i == 5) << i;
    EXPECT_EQ(net.cell(i).out_channels(), out_channels[i]) << i;
    EXPECT_EQ(net.cell(i).edges().size(), 14u);
  }
  // After a reduction cell, s0 goes through FactorizedReduce.
  EXPECT_TRUE(weights.contains("cells.3.preprocess0.conv_1.weight"));
  EXPECT_TRUE(weights.contains("cells.6.preprocess0.conv_2.weight"));
  EXPECT_TRUE(weights.contains("cells.4.preprocess0.op.1.weight"));
  EXPECT_EQ(weights.parameter("cells.0._ops.4._ops.4.op.1.weight").shape(),
            (Shape{16, 1, 3, 3}));
  EXPECT_EQ(weights.named_parameters().front().first, "stem.0.weight");
  EXPECT_EQ(weights.named_parameters().back().first, "classifier.bias");

  // α: two (14, 8) matrices in their own store, ~1e-3·N(0, 1).
  EXPECT_EQ(alphas.num_parameters(), 224);
  EXPECT_EQ(net.alpha_normal().shape(), (Shape{14, 8}));
  EXPECT_EQ(net.alpha_reduce().shape(), (Shape{14, 8}));
  EXPECT_TRUE(net.alpha_normal().same(alphas.parameter("alphas_normal")));
  EXPECT_TRUE(net.alpha_reduce().same(alphas.parameter("alphas_reduce")));
  double sum_sq = 0, max_abs = 0;
  for (const Variable& a : net.alphas())
    for (float v : a.value().to_vector<float>()) {
      sum_sq += static_cast<double>(v) * v;
      max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
    }
  EXPECT_NEAR(std::sqrt(sum_sq / 224), 1e-3, 3e-4);
  EXPECT_GT(max_abs, 0.0);
  EXPECT_LT(max_abs, 6e-3);
}

TEST(SearchNetwork, AlphaNeedsItsOwnStoreAndConfigIsChecked) {
  ParameterStore store;
  EXPECT_THROW(SearchNetwork(tiny_search_config(), store, store), Error);
  SearchConfig bad = tiny_search_config();
  bad.multiplier = 5;
  ParameterStore w, a;
  EXPECT_THROW(SearchNetwork(bad, w, a), Error);
}

TEST(SearchNetwork, ConfigurableNodesAndInputChannels) {
  SearchConfig c = tiny_search_config();
  c.nodes = 3;
  c.multiplier = 2;
  c.input_channels = 1;
  c.classes = 5;
  ParameterStore weights, alphas;
  SearchNetwork net(c, weights, alphas);
  EXPECT_EQ(net.alpha_normal().shape(), (Shape{9, 8}));
  EXPECT_EQ(weights.parameter("stem.0.weight").shape(), (Shape{12, 1, 3, 3}));
  EXPECT_EQ(net.cell(0).out_channels(), 8);
  const Variable logits = net.forward(random_input({2, 1, 8, 8}, 5));
  EXPECT_EQ(logits.shape(), (Shape{2, 5}));
  EXPECT_THROW(net.forward(random_input({2, 3, 8, 8}, 5)), Error);
  EXPECT_EQ(net.genotype().normal.size(), 6u);
  EXPECT_EQ(net.genotype().normal_concat, (std::vector<int>{3, 4}));
}

// §11: gradients from the loss reach both α matrices and every weight tensor.
TEST(SearchNetwork, GradientsReachAlphaAndEveryWeight) {
  ParameterStore weights(3), alphas(4);
  SearchNetwork net(tiny_search_config(), weights, alphas);
  const Variable logits = net.forward(random_input({2, 3, 8, 8}, 11));
  ASSERT_EQ(logits.shape(), (Shape{2, 10}));
  backward(cross_entropy(logits, labels({3, 7})));
  for (const Variable& a : net.alphas()) {
    double norm = 0;
    for (float g : a.grad().to_vector<float>()) norm += std::abs(g);
    EXPECT_GT(norm, 0.0);
  }
  for (const auto& [name, var] : weights.named_parameters()) {
    double norm = 0;
    for (float g : var.grad().to_vector<float>()) norm += std::abs(g);
    EXPECT_GT(norm, 0.0) << name << " got no gradient";
  }
}

TEST(SearchNetwork, TrainAndEvalReachEveryBatchNorm) {
  ParameterStore weights, alphas;
  SearchNetwork net(tiny_search_config(), weights, alphas);
  const Variable deep = weights.buffer("cells.2._ops.13._ops.7.op.3.running_mean");
  const Variable x = random_input({2, 3, 8, 8}, 2);
  net.eval();
  {
    NoGradGuard no_grad;
    net.forward(x);
  }
  for (float v : deep.value().to_vector<float>()) EXPECT_EQ(v, 0.0f);
  net.train();
  net.forward(x);
  double moved = 0;
  for (float v : deep.value().to_vector<float>()) moved += std::abs(v);
  EXPECT_GT(moved, 0.0);
}

TEST(SearchNetwork, GenotypeDerivesFromAlpha) {
  ParameterStore weights, alphas;
  SearchNetwork net(tiny_search_config(), weights, alphas);
  // Equal α: every node takes max_pool_3x3 from inputs 0 and 1 (reference §4.1 sanity).
  alphas.weights().fill_(0.0);
  const CnnGenotype flat = net.genotype();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(flat.normal[2 * i], (OpEdge{"max_pool_3x3", 0}));
    EXPECT_EQ(flat.normal[2 * i + 1], (OpEdge{"max_pool_3x3", 1}));
  }
  EXPECT_EQ(flat.normal_concat, (std::vector<int>{2, 3, 4, 5}));
  // Raise sep_conv_3x3 on edge 4 (node 3 from node 2) in the reduce matrix.
  net.alpha_reduce().value().data<float>()[4 * 8 + 4] = 1.0f;
  const CnnGenotype g = net.genotype();
  EXPECT_EQ(g.reduce[2], (OpEdge{"sep_conv_3x3", 2}));
  EXPECT_EQ(g, derive_cnn_genotype(net.normal_weights(), net.reduce_weights()));
  const std::vector<std::vector<double>> w = net.reduce_weights();
  double row = 0;
  for (double v : w[4]) row += v;
  EXPECT_NEAR(row, 1.0, 1e-12);
  EXPECT_NEAR(w[4][4], std::exp(1.0) / (std::exp(1.0) + 7), 1e-7);
}

// d loss / d α (and a few weights) against central differences, float64 on the CPU.
TEST(SearchNetwork, AlphaGradientMatchesFiniteDifferences) {
  SearchConfig c;
  c.channels = 2;
  c.layers = 3;
  ParameterStore weights(21, DType::f64), alphas(22, DType::f64);
  SearchNetwork net(c, weights, alphas);
  // Spread α so the softmax weights differ clearly between ops.
  fill_uniform(net.alpha_normal().value(), -1.0, 1.0, 23);
  fill_uniform(net.alpha_reduce().value(), -1.0, 1.0, 25);
  const Variable x = random_input({2, 3, 8, 8}, 24, DType::f64);
  const Tensor y = labels({1, 8});
  auto loss = [&] { return cross_entropy(net.forward(x), y); };
  // Every third entry of each (14, 8) matrix: all rows and all columns get probed.
  test::expect_gradients_match(loss, net.alphas(), 1e-6, 37, 1e-6);
  test::expect_gradients_match(
      loss,
      {weights.parameter("cells.1._ops.0._ops.4.op.1.weight"),
       weights.parameter("cells.2.preprocess0.conv_2.weight"),
       weights.parameter("stem.0.weight")},
      1e-6, 6, 1e-6);
}

// Backward kernels add into a state's gradient themselves, and sums pass their gradient on
// uncopied (autograd/variable.h): the weight and α gradients of a whole network are bit for bit
// those of the reference path, where every contribution is written apart and added with axpby.
TEST(SearchNetwork, GradientsAreBitIdenticalWhenKernelsAccumulate) {
  ParameterStore weights(3), alphas(4);
  SearchNetwork net(tiny_search_config(), weights, alphas);
  fill_uniform(net.alpha_normal().value(), -1.0, 1.0, 5);
  fill_uniform(net.alpha_reduce().value(), -1.0, 1.0, 6);
  const Variable x = random_input({2, 3, 8, 8}, 11);
  const Tensor y = labels({3, 7});
  auto gradients = [&] {
    weights.zero_grad();
    alphas.zero_grad();
    backward(cross_entropy(net.forward(x), y));
    return std::pair{weights.grads().to_vector<float>(), alphas.grads().to_vector<float>()};
  };
  const auto fused = gradients();
  std::pair<std::vector<float>, std::vector<float>> separate;
  {
    SeparateGradContributionsGuard reference;
    separate = gradients();
  }
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  EXPECT_TRUE(same_bits(fused.first, separate.first)) << "weight gradients differ";
  EXPECT_TRUE(same_bits(fused.second, separate.second)) << "α gradients differ";
}

// Rebuilding the pools' and depthwise convolutions' outputs in backward (recompute_cheap_ops)
// gives the gradients and running statistics of the network that keeps them, bit for bit, with a
// lower peak of the host allocator over the pass: with each op alone and with the ops of a state
// grouped (group_state_ops, whose groups are rebuilt whole, rebuild_together).
TEST(SearchNetwork, RecomputingCheapOpsKeepsGradientsBitIdenticalWithLessMemory) {
  for (const bool group : {false, true}) {
    SCOPED_TRACE(group ? "state ops grouped" : "ops alone");
    struct Pass {
      std::vector<float> weight_grads, alpha_grads, buffers;
      size_t peak_bytes = 0;
    };
    auto pass = [group](bool recompute) {
      SearchConfig config = tiny_search_config();
      config.recompute_cheap_ops = recompute;
      config.group_state_ops = group;
      ParameterStore weights(3), alphas(4);
      SearchNetwork net(config, weights, alphas);
      fill_uniform(net.alpha_normal().value(), -1.0, 1.0, 5);
      fill_uniform(net.alpha_reduce().value(), -1.0, 1.0, 6);
      const Variable x = random_input({2, 3, 8, 8}, 11);
      const Tensor y = labels({3, 7});
      const size_t before = host_memory_stats().current_bytes;
      host_reset_peak();
      backward(cross_entropy(net.forward(x), y));
      Pass result;
      result.peak_bytes = host_memory_stats().peak_bytes - before;
      result.weight_grads = weights.grads().to_vector<float>();
      result.alpha_grads = alphas.grads().to_vector<float>();
      for (const ParameterStore::Entry& e : weights.entries())
        if (e.is_buffer)
          for (float v : e.var.value().to_vector<float>()) result.buffers.push_back(v);
      return result;
    };
    const Pass rebuilt = pass(true), kept = pass(false);
    auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    EXPECT_TRUE(same_bits(rebuilt.weight_grads, kept.weight_grads)) << "weight gradients differ";
    EXPECT_TRUE(same_bits(rebuilt.alpha_grads, kept.alpha_grads)) << "α gradients differ";
    EXPECT_TRUE(same_bits(rebuilt.buffers, kept.buffers)) << "running statistics differ";
    // Per normal edge 8 activations fewer (2 pools, 6 depthwise outputs) of 14.
    EXPECT_LT(rebuilt.peak_bytes, kept.peak_bytes * 3 / 4)
        << "peak " << rebuilt.peak_bytes << " B rebuilt against " << kept.peak_bytes << " B kept";
  }
}

// The same network, weights and batch on the GPU: logits and gradients agree with the CPU, each
// element within its own rounding, measured against the same network in float64.
TEST(SearchNetwork, CudaMatchesCpu) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  ParameterStore weights(3), alphas(4);
  SearchNetwork net(tiny_search_config(), weights, alphas);
  fill_uniform(net.alpha_normal().value(), -1.0, 1.0, 5);
  fill_uniform(net.alpha_reduce().value(), -1.0, 1.0, 6);
  const Tensor x = random_input({2, 3, 8, 8}, 11).value();
  const Tensor y = labels({3, 7});
  struct Result {
    std::vector<double> logits, alpha_grads, weight_grads;
  };
  auto run = [&](SearchNetwork& n, ParameterStore& w, ParameterStore& a, Device device) {
    w.to(device);
    a.to(device);
    w.zero_grad();
    a.zero_grad();
    const Variable logits = n.forward(Variable(x.to(w.dtype()).to(device)));
    backward(cross_entropy(logits, y.to(device)));
    auto host = [](const Tensor& t) { return t.to(Device::cpu()).to(DType::f64).to_vector<double>(); };
    return Result{host(logits.value()), host(a.grads()), host(w.grads())};
  };
  // The float64 twin holds the same (float32) values.
  ParameterStore weights64(3, DType::f64), alphas64(4, DType::f64);
  SearchNetwork net64(tiny_search_config(), weights64, alphas64);
  weights64.weights().copy_from(weights.weights().to(DType::f64));
  alphas64.weights().copy_from(alphas.weights().to(DType::f64));
  const Result reference = run(net64, weights64, alphas64, Device::cpu());
  const Result cpu = run(net, weights, alphas, Device::cpu());
  const Result gpu = run(net, weights, alphas, Device::cuda());
  const std::vector<test::Group> all_logits{{0, static_cast<int64_t>(cpu.logits.size())}};
  expect_within_measured_bounds(gpu.logits, cpu.logits, reference.logits, all_logits, "logits");
  expect_within_measured_bounds(gpu.alpha_grads, cpu.alpha_grads, reference.alpha_grads,
                                parameter_groups(alphas), "α gradients");
  expect_within_measured_bounds(gpu.weight_grads, cpu.weight_grads, reference.weight_grads,
                                parameter_groups(weights), "weight gradients");
  const CnnGenotype derived_on_gpu = net.genotype();  // α read back from the device
  alphas.to(Device::cpu());
  EXPECT_EQ(derived_on_gpu, net.genotype());
}

}  // namespace
}  // namespace autonet::darts
