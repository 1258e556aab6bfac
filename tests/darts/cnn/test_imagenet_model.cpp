// The ImageNet network (NetworkImageNet of the official model.py, reference darts.md §5.6):
// official parameter names and shapes, the channel and size bookkeeping of its two stride-2
// stems, and a training forward + backward with the auxiliary head on the CPU at a small C.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/functions.h"
#include "darts/cnn/augment_model.h"
#include "darts/cnn/imagenet_model.h"
#include "runtime/error.h"

namespace autonet::darts {
namespace {

AugmentConfig imagenet(int64_t channels, int64_t layers, int64_t classes) {
  AugmentConfig c;
  c.channels = channels;
  c.layers = layers;
  c.classes = classes;
  c.imagenet = true;
  return c;
}

TEST(ImageNetNetwork, OfficialNamesAndShapesAtThePapersSize) {
  ParameterStore weights;
  AugmentNetwork net(imagenet(48, 14, 1000), published_cnn_genotype("DARTS_V2"), weights);
  EXPECT_EQ(weights.parameter("stem0.0.weight").shape(), (Shape{24, 3, 3, 3}));
  EXPECT_EQ(weights.parameter("stem0.1.weight").shape(), (Shape{24}));
  EXPECT_EQ(weights.parameter("stem0.3.weight").shape(), (Shape{48, 24, 3, 3}));
  EXPECT_EQ(weights.buffer("stem0.4.running_var").shape(), (Shape{48}));
  EXPECT_EQ(weights.parameter("stem1.1.weight").shape(), (Shape{48, 48, 3, 3}));
  EXPECT_EQ(weights.parameter("stem1.2.bias").shape(), (Shape{48}));
  EXPECT_FALSE(weights.contains("stem.0.weight"));
  // The first cell's s0 comes from stem0 (twice the size of stem1's): a FactorizedReduce.
  EXPECT_EQ(weights.parameter("cells.0.preprocess0.conv_1.weight").shape(), (Shape{24, 48, 1, 1}));
  EXPECT_TRUE(weights.contains("cells.1.preprocess0.op.1.weight"));  // ReLUConvBN after a normal cell
  // Reductions at cells 4 and 9: C 48 → 96 → 192; the head sees cell 9's 4·192 = 768 channels.
  EXPECT_EQ(weights.parameter("cells.4.preprocess1.op.1.weight").shape(), (Shape{96, 192, 1, 1}));
  EXPECT_EQ(weights.parameter("cells.5.preprocess0.conv_1.weight").shape(), (Shape{48, 192, 1, 1}));
  EXPECT_EQ(weights.parameter("auxiliary_head.features.2.weight").shape(), (Shape{128, 768, 1, 1}));
  EXPECT_EQ(weights.parameter("auxiliary_head.features.3.weight").shape(), (Shape{128}));
  EXPECT_EQ(weights.parameter("auxiliary_head.features.5.weight").shape(), (Shape{768, 128, 2, 2}));
  EXPECT_FALSE(weights.contains("auxiliary_head.features.6.weight"));  // no BN after the 2×2 conv
  EXPECT_EQ(weights.parameter("auxiliary_head.classifier.weight").shape(), (Shape{1000, 768}));
  EXPECT_EQ(weights.parameter("classifier.weight").shape(), (Shape{1000, 768}));
  // The paper's mobile setting: 4.7M parameters (aux head excluded).
  EXPECT_NEAR(static_cast<double>(net.parameter_count()) / 1e6, 4.7, 0.05) << net.parameter_count();
}

TEST(ImageNetNetwork, ForwardAndBackwardWithTheAuxiliaryHead) {
  ParameterStore weights(3);
  // L = 3: reductions at cells 1 and 2; 224×224 → stems 28×28 → 14 → 7 at the head's cell 2.
  AugmentNetwork net(imagenet(8, 3, 5), published_cnn_genotype("DARTS_V2"), weights);
  Tensor x = Tensor::empty({2, 3, 224, 224});
  fill_uniform(x, -1.0, 1.0, 4);
  const AugmentNetwork::Output out = net.forward_all(Variable(x));
  ASSERT_TRUE(out.aux_logits.defined());
  EXPECT_EQ(out.logits.shape(), (Shape{2, 5}));
  EXPECT_EQ(out.aux_logits.shape(), (Shape{2, 5}));
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 4}, {2});
  backward(add(cross_entropy(out.logits, y), scale(cross_entropy(out.aux_logits, y), 0.4)));
  for (const char* name : {"stem0.0.weight", "stem1.1.weight", "cells.0.preprocess0.conv_1.weight",
                           "auxiliary_head.features.5.weight", "classifier.weight"}) {
    double norm = 0;
    for (float g : weights.parameter(name).grad().to_vector<float>()) norm += std::abs(g);
    EXPECT_GT(norm, 0.0) << name;
  }
  // A head on maps that are not 7×7 or 8×8 is refused with a message.
  AuxiliaryHeadImageNet head(weights, "head", 4, 5);
  Tensor small = Tensor::empty({1, 4, 5, 5});
  fill_uniform(small, -1.0, 1.0, 1);
  EXPECT_THROW(head.forward(Variable(small)), Error);
}

}  // namespace
}  // namespace autonet::darts
