// The PC-DARTS supernet (darts/cnn/pc_search_model.h) against the official model_search.py: the
// partial-channel mixed op, edge normalisation β, the β-weighted derivation, parameter counts
// and names.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "darts/cnn/pc_search_model.h"
#include "darts/cnn/search_model.h"
#include "runtime/error.h"
#include "tests/autograd/gradcheck.h"
#include "tests/darts/parameter_counts.h"

namespace autonet::darts {
namespace {

SearchConfig pc_config() {
  SearchConfig c;
  c.partial_channels = 4;
  c.edge_normalization = true;
  return c;
}

// Mixed-op weights (softmax row without `none`) putting all weight on one primitive, or none.
Variable one_hot_weights(int primitive) {
  std::vector<float> w(7, 0.0f);
  if (primitive > 0) w[primitive - 1] = 1.0f;
  return Variable(Tensor::from_vector(w, {7}));
}

TEST(PcSearchNetwork, DefaultNetworkMatchesTheOfficialCounts) {
  // Counted from model_search.py's rules with c = C/4 per edge: a stride-1 mixed op has
  // 102c + 6c² weights (sep 3×3: 2(9c + c²), sep 5×5: 2(25c + c²), dil 3×3: 9c + c², dil 5×5:
  // 25c + c²; pools' BN and skip have none), a stride-2 one c² more (FactorizedReduce's two
  // c → c/2 convs); preprocessing C_pp·C + C_p·C; stem 1392; classifier 2570.
  ParameterStore weights(0), alphas(1);
  SearchNetwork net(pc_config(), weights, alphas);
  EXPECT_EQ(net.parameter_count(), 299578);
  const std::vector<int64_t> cell_params = {8592, 8848, 21408, 22944, 24992, 62784, 68928, 77120};
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ(count_with_prefix(weights, "cells." + std::to_string(i) + "."), cell_params[i])
        << "cell " << i;
  EXPECT_EQ(count_with_prefix(weights, "stem."), 1392);
  EXPECT_EQ(count_with_prefix(weights, "classifier."), 2570);

  // The official names: the candidates of edge 4 of cell 0 act on 16/4 channels.
  EXPECT_EQ(weights.parameter("cells.0._ops.4._ops.4.op.1.weight").shape(), (Shape{4, 1, 3, 3}));
  EXPECT_EQ(weights.parameter("cells.2._ops.0._ops.3.conv_1.weight").shape(),
            (Shape{4, 8, 1, 1}));  // reduction edge: skip is FactorizedReduce(8, 8)
  EXPECT_EQ(weights.parameter("cells.0.preprocess0.op.1.weight").shape(), (Shape{16, 48, 1, 1}));

  // Architecture parameters in the official order: α_normal, α_reduce, β_normal, β_reduce.
  ASSERT_EQ(alphas.named_parameters().size(), 4u);
  const std::vector<std::string> names = {"alphas_normal", "alphas_reduce", "betas_normal",
                                          "betas_reduce"};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(alphas.named_parameters()[i].first, names[i]);
  EXPECT_EQ(net.beta_normal().shape(), (Shape{14}));
  EXPECT_TRUE(net.beta_reduce().same(alphas.parameter("betas_reduce")));
  EXPECT_EQ(alphas.num_parameters(), 224 + 28);
}

// The stride-2 stem of the official ImageNet search (model_search_imagenet.py) at C_curr = 3C = 48:
// stem0 = conv 3→24 s2 (648), BN (48), ReLU, conv 24→48 s2 (10,368), BN (96); stem1 = ReLU,
// conv 48→48 s2 (20,736), BN (96): 31,992 weights in place of the CIFAR stem's 1,392. Cell 0
// takes stem0's output as from a reduction: FactorizedReduce(48 → 16) has 2·48·8 = 768 weights,
// as many as ReLUConvBN(48 → 16), so every cell keeps its count.
TEST(PcSearchNetwork, ImageNetStemNamesAndCount) {
  SearchConfig c = pc_config();
  c.imagenet_stem = true;
  ParameterStore weights(0), alphas(1), cifar_weights(0), cifar_alphas(1);
  SearchNetwork net(c, weights, alphas);
  const SearchNetwork cifar(pc_config(), cifar_weights, cifar_alphas);
  EXPECT_EQ(net.parameter_count(), 299578 - 1392 + 31992);
  EXPECT_EQ(count_with_prefix(weights, "stem0."), 648 + 48 + 10368 + 96);
  EXPECT_EQ(count_with_prefix(weights, "stem1."), 20736 + 96);
  EXPECT_EQ(count_with_prefix(weights, "stem."), 0);
  EXPECT_EQ(count_with_prefix(weights, "cells."), count_with_prefix(cifar_weights, "cells."));
  EXPECT_EQ(weights.parameter("stem0.0.weight").shape(), (Shape{24, 3, 3, 3}));
  EXPECT_EQ(weights.parameter("stem0.1.weight").shape(), (Shape{24}));
  EXPECT_EQ(weights.parameter("stem0.3.weight").shape(), (Shape{48, 24, 3, 3}));
  EXPECT_EQ(weights.parameter("stem0.4.bias").shape(), (Shape{48}));
  EXPECT_EQ(weights.parameter("stem1.1.weight").shape(), (Shape{48, 48, 3, 3}));
  EXPECT_EQ(weights.parameter("stem1.2.weight").shape(), (Shape{48}));
  EXPECT_EQ(weights.parameter("cells.0.preprocess0.conv_1.weight").shape(), (Shape{8, 48, 1, 1}));
  EXPECT_EQ(weights.parameter("cells.1.preprocess0.op.1.weight").shape(), (Shape{16, 48, 1, 1}));

  // 64×64 images: the cells work at 8×8, 4×4 and 2×2.
  ParameterStore small_weights(0), small_alphas(1);
  SearchConfig small = c;
  small.channels = 8;
  small.layers = 3;
  SearchNetwork small_net(small, small_weights, small_alphas);
  Tensor x = Tensor::empty({2, 3, 64, 64});
  fill_uniform(x, -1.0, 1.0, 5);
  EXPECT_EQ(small_net.forward(Variable(x)).shape(), (Shape{2, 10}));
}

TEST(PcSearchNetwork, ChannelsMustSplitIntoParts) {
  SearchConfig c = pc_config();
  c.channels = 6;
  ParameterStore w, a;
  EXPECT_THROW(SearchNetwork(c, w, a), Error);
  c.channels = 16;
  c.partial_channels = 0;
  EXPECT_THROW(SearchNetwork(c, w, a), Error);
}

TEST(PartialMixedOp, HeadThroughTheOpsTailBypassesThenShuffle) {
  ParameterStore store;
  // Stride 1, C 4, K 2: head = channels 0–1 through skip_connect (identity), tail = 2–3; the
  // shuffle with 2 groups interleaves them: output channels are input channels 0, 2, 1, 3.
  PartialMixedOp normal(store, "normal", 4, 1, 2);
  std::vector<float> x(4 * 9);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const Variable y = normal.forward(Variable(Tensor::from_vector(x, {1, 4, 3, 3})),
                                    one_hot_weights(3));  // skip_connect
  const std::vector<float> out = y.value().to_vector<float>();
  const int source[4] = {0, 2, 1, 3};
  for (int c = 0; c < 4; ++c)
    for (int p = 0; p < 9; ++p) EXPECT_EQ(out[c * 9 + p], x[source[c] * 9 + p]) << c << "," << p;

  // Stride 2: with every op weighted 0 the head is 0; the tail (channels 2–3 of a 4×4 map holding
  // 0..63) is max-pooled 2×2: each window's largest value is its bottom-right one.
  PartialMixedOp reduce(store, "reduce", 4, 2, 2);
  std::vector<float> x4(4 * 16);
  for (size_t i = 0; i < x4.size(); ++i) x4[i] = static_cast<float>(i);
  const Variable z =
      reduce.forward(Variable(Tensor::from_vector(x4, {1, 4, 4, 4})), one_hot_weights(0));
  EXPECT_EQ(z.value().to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0, 37, 39, 45, 47, 0, 0, 0, 0, 53, 55, 61, 63}));
  EXPECT_THROW(reduce.forward(Variable(Tensor::zeros({2, 4, 5, 5})), one_hot_weights(0)), Error);  // odd
}

TEST(PcSearchNetwork, EdgeNormalisationIsASoftmaxPerNode) {
  const std::vector<float> beta = {0, 0, std::log(0.1f), std::log(0.2f), std::log(0.7f),
                                   1, 1, 1, 1, 0, 0, 0, 0, 0};
  const Variable b(Tensor::from_vector(beta, {14}));
  const std::vector<double> w = host_edge_normalization(b, 4);
  const std::vector<double> expected = {0.5,  0.5,  0.1,  0.2,  0.7, 0.25, 0.25,
                                        0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2};
  for (size_t e = 0; e < 14; ++e) EXPECT_NEAR(w[e], expected[e], 1e-6) << e;
  const std::vector<Variable> per_node = edge_normalization_weights(b, 4);
  ASSERT_EQ(per_node.size(), 4u);
  EXPECT_EQ(per_node[1].shape(), (Shape{3}));
  const std::vector<float> node1 = per_node[1].value().to_vector<float>();
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(node1[j], expected[2 + j], 1e-6) << j;
}

TEST(PcSearchNetwork, DerivationRanksEdgesBySoftmaxBetaTimesSoftmaxAlpha) {
  // Node 1 (edges 2–4, inputs 0–2). softmax(α) rows, logit ln(v) on one primitive and 0 on the
  // other seven: edge 2 sep_conv_3x3 at 14/21 = 2/3, edge 3 max_pool_3x3 at 7/14 = 1/2, edge 4
  // skip_connect at (7/3)/(7/3 + 7) = 1/4. α alone keeps edges 2 and 3.
  // softmax(β) over the node = 0.1, 0.2, 0.7 → 0.067, 0.1, 0.175: edges 4 then 3 win.
  ParameterStore weights, alphas;
  SearchConfig c = pc_config();
  c.channels = 4;
  c.layers = 3;
  SearchNetwork net(c, weights, alphas);
  std::vector<float> alpha(14 * 8, 0.0f), beta(14, 0.0f);
  alpha[2 * 8 + 4] = std::log(14.0f);
  alpha[3 * 8 + 1] = std::log(7.0f);
  alpha[4 * 8 + 3] = std::log(7.0f / 3.0f);
  beta[2] = std::log(0.1f), beta[3] = std::log(0.2f), beta[4] = std::log(0.7f);
  net.alpha_normal().value().copy_from(Tensor::from_vector(alpha, {14, 8}));
  net.beta_normal().value().copy_from(Tensor::from_vector(beta, {14}));
  const CnnGenotype g = net.genotype();
  EXPECT_EQ(g.normal[2], (OpEdge{"skip_connect", 2}));
  EXPECT_EQ(g.normal[3], (OpEdge{"max_pool_3x3", 1}));

  // The same α without β: DARTS's rule keeps sep_conv_3x3 from input 0.
  const CnnGenotype plain = derive_cnn_genotype(net.normal_weights(), net.reduce_weights(), 4, 4);
  EXPECT_EQ(plain.normal[2], (OpEdge{"sep_conv_3x3", 0}));
  EXPECT_EQ(plain.normal[3], (OpEdge{"max_pool_3x3", 1}));
}

TEST(PcSearchNetwork, BetaAndAlphaGradientsMatchFiniteDifferences) {
  SearchConfig c = pc_config();
  c.channels = 4;
  c.layers = 3;
  c.partial_channels = 2;
  ParameterStore weights(31, DType::f64), alphas(32, DType::f64);
  SearchNetwork net(c, weights, alphas);
  fill_uniform(net.alpha_normal().value(), -1.0, 1.0, 33);
  fill_uniform(net.alpha_reduce().value(), -1.0, 1.0, 34);
  fill_uniform(net.beta_normal().value(), -1.0, 1.0, 35);
  fill_uniform(net.beta_reduce().value(), -1.0, 1.0, 36);
  Tensor input = Tensor::empty({2, 3, 8, 8}, DType::f64);
  fill_uniform(input, -1.0, 1.0, 37);
  const Variable x(input);
  const Tensor y = Tensor::from_vector<int64_t>({1, 8}, {2});
  auto loss = [&] { return cross_entropy(net.forward(x), y); };
  test::expect_gradients_match(loss, {net.beta_normal(), net.beta_reduce()}, 1e-6, 0, 1e-6);
  test::expect_gradients_match(loss, net.alphas(), 1e-6, 37, 1e-6);
  test::expect_gradients_match(
      loss, {weights.parameter("cells.2._ops.1._ops.4.op.1.weight"), weights.parameter("stem.0.weight")},
      1e-6, 6, 1e-6);
}

}  // namespace
}  // namespace autonet::darts
