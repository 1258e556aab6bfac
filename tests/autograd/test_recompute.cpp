// Outputs rebuilt in backward (autograd/variable.h, SavedValue): a cheap producer's output that a
// consumer needs in its backward is freed with the forward pass and rebuilt then, and the
// gradients are bit for bit those of the path that keeps it (KeepValuesGuard).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "autograd/functions.h"
#include "gradcheck.h"
#include "runtime/op_profile.h"

namespace autonet {
namespace {
using test::leaf;

struct Sweep {
  std::vector<Tensor> grads;
  std::vector<bool> freed;  // per watched output: its storage was gone once the forward ended
  int64_t depthwise_forwards = 0, pool_forwards = 0;  // kernel calls during backward
  int64_t group_forwards = 0, depthwise_group_forwards = 0;
  int64_t group_flops = 0, depthwise_group_flops = 0;  // what those group calls computed
};

// forward(watch) builds the loss and puts the outputs to watch into `watch`; their storages are
// checked after forward returns (every handle of the caller dropped).
template <class Forward>
Sweep sweep(Forward&& forward, const std::vector<Variable>& inputs) {
  for (Variable v : inputs) v.clear_grad();
  std::vector<std::weak_ptr<Storage>> watched;
  const Variable loss = forward(watched);
  Sweep run;
  for (const auto& w : watched) run.freed.push_back(w.expired());
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    backward(loss);
  }
  for (const Variable& v : inputs) run.grads.push_back(v.grad().clone());
  const auto ops = profile.by_op();
  if (ops.count("depthwise_conv2d_forward"))
    run.depthwise_forwards = ops.at("depthwise_conv2d_forward").calls;
  if (ops.count("pool2d_forward")) run.pool_forwards = ops.at("pool2d_forward").calls;
  if (ops.count("stencil_group_forward")) {
    run.group_forwards = ops.at("stencil_group_forward").calls;
    run.group_flops = ops.at("stencil_group_forward").cost.flops;
  }
  if (ops.count("depthwise_group_forward")) {
    run.depthwise_group_forwards = ops.at("depthwise_group_forward").calls;
    run.depthwise_group_flops = ops.at("depthwise_group_forward").cost.flops;
  }
  return run;
}

void expect_same_bits(const Sweep& a, const Sweep& b) {
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    ASSERT_EQ(a.grads[i].shape(), b.grads[i].shape());
    EXPECT_EQ(std::memcmp(a.grads[i].raw_data(), b.grads[i].raw_data(), a.grads[i].nbytes()), 0)
        << "gradient of input " << i << " differs from the path that keeps the values";
  }
}

struct Paths {
  Sweep rebuilt, kept;
};

// The sweep as is, then with every value kept (the reference): the gradients must agree bit for bit.
template <class Forward>
Paths both_paths(Forward&& forward, const std::vector<Variable>& inputs) {
  Paths paths;
  paths.rebuilt = sweep(forward, inputs);
  {
    KeepValuesGuard keep;
    paths.kept = sweep(forward, inputs);
  }
  expect_same_bits(paths.rebuilt, paths.kept);
  return paths;
}

Conv2dParams pointwise() { return Conv2dParams{}; }

DepthwiseConv2dParams sep3() {
  DepthwiseConv2dParams p;
  p.pad_h = p.pad_w = 1;
  p.relu_input = true;
  return p;
}

// A separable convolution's depthwise → pointwise pair: the 1×1 convolution's weight gradient
// needs the depthwise output, which backward rebuilds from x.
TEST(Recompute, APointwiseConvolutionRebuildsItsDepthwiseInput) {
  Variable x = leaf({2, 3, 7, 6}, 1), w_dw = leaf({3, 1, 3, 3}, 2), w_pw = leaf({4, 3, 1, 1}, 3);
  const Variable r = leaf({2, 4, 7, 6}, 4).detach();
  auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
    const Variable d = depthwise_conv2d(x, w_dw, sep3());
    watched.push_back(d.value().storage());
    return sum(mul(conv2d(d, w_pw, Variable(), pointwise()), r));
  };
  const auto [rebuilt, kept] = both_paths(forward, {x, w_dw, w_pw});
  EXPECT_TRUE(rebuilt.freed.at(0)) << "the depthwise output outlived the forward pass";
  EXPECT_FALSE(kept.freed.at(0));
  EXPECT_EQ(rebuilt.depthwise_forwards, 1);
  EXPECT_EQ(kept.depthwise_forwards, 0);
}

// The same through a depthwise group (members on their own inputs): the outputs the 1×1
// convolutions read are rebuilt together, one group launch for both.
TEST(Recompute, PointwiseConvolutionsRebuildTheirDepthwiseGroupInputs) {
  Variable a = leaf({2, 3, 7, 6}, 20), b = leaf({2, 3, 7, 6}, 21);
  Variable w3 = leaf({3, 1, 3, 3}, 22), w5 = leaf({3, 1, 5, 5}, 23), w_pw = leaf({4, 3, 1, 1}, 24);
  const Variable r = leaf({2, 4, 7, 6}, 25).detach();
  DepthwiseConv2dParams sep5 = sep3();
  sep5.pad_h = sep5.pad_w = 2;
  auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
    const std::vector<Variable> d = depthwise_group({a, b}, {w3, w5}, {sep3(), sep5});
    watched = {d[0].value().storage(), d[1].value().storage()};
    return add(sum(mul(conv2d(d[0], w_pw, Variable(), pointwise()), r)),
               sum(mul(conv2d(d[1], w_pw, Variable(), pointwise()), r)));
  };
  const auto [rebuilt, kept] = both_paths(forward, {a, b, w3, w5, w_pw});
  EXPECT_EQ(rebuilt.freed, (std::vector<bool>{true, true}));
  EXPECT_EQ(kept.freed, (std::vector<bool>{false, false}));
  EXPECT_EQ(rebuilt.depthwise_group_forwards, 1);
  EXPECT_EQ(kept.depthwise_group_forwards, 0);
}

// Without a weight gradient the 1×1 convolution needs only x's shape: nothing is rebuilt.
TEST(Recompute, NothingIsRebuiltForAConvolutionWithoutWeightGradient) {
  Variable x = leaf({2, 3, 5, 5}, 5), w_dw = leaf({3, 1, 3, 3}, 6);
  const Variable w_pw = leaf({4, 3, 1, 1}, 7, -1.0, 1.0, /*requires_grad=*/false);
  const Variable r = leaf({2, 4, 5, 5}, 8).detach();
  auto forward = [&](std::vector<std::weak_ptr<Storage>>&) {
    return sum(mul(conv2d(depthwise_conv2d(x, w_dw, sep3()), w_pw, Variable(), pointwise()), r));
  };
  const Sweep rebuilt = both_paths(forward, {x, w_dw}).rebuilt;
  EXPECT_EQ(rebuilt.depthwise_forwards, 0);
}

// The sep convs' closing 1×1 convolutions as one group keep their inputs as conv2d does: the
// depthwise outputs are rebuilt for the weight gradients, and not at all for a member whose
// weight needs none.
TEST(Recompute, APointwiseGroupRebuildsItsDepthwiseInputsForWeightGradientsOnly) {
  Variable x = leaf({2, 3, 6, 5}, 30), w_dw = leaf({3, 1, 3, 3}, 31);
  Variable w0 = leaf({4, 3, 1, 1}, 32);
  const Variable w1 = leaf({4, 3, 1, 1}, 33, -1.0, 1.0, /*requires_grad=*/false);
  const Variable r = leaf({2, 4, 6, 5}, 34).detach();
  auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
    const Variable d0 = depthwise_conv2d(x, w_dw, sep3()), d1 = depthwise_conv2d(relu(x), w_dw, sep3());
    watched = {d0.value().storage(), d1.value().storage()};
    const std::vector<Variable> y = pointwise_group({d0, d1}, {w0, w1});
    return sum(mul(add(y[0], y[1]), r));
  };
  const auto [rebuilt, kept] = both_paths(forward, {x, w_dw, w0});
  EXPECT_EQ(rebuilt.freed, (std::vector<bool>{true, true}));
  EXPECT_EQ(kept.freed, (std::vector<bool>{false, false}));
  EXPECT_EQ(rebuilt.depthwise_forwards, 1);  // d0 for w0's gradient; d1 not (w1 needs none)
  EXPECT_EQ(kept.depthwise_forwards, 0);
}

// The pattern FactorizedReduce ran before its fused op (kernels/factorized_reduce.h), as a test of
// rebuilding through two producers: relu keeps its input (relu' reads x > 0, i.e. y > 0), and the two
// 1×1 convolutions rebuild its output, the second through the strided slice that feeds it.
TEST(Recompute, ConvolutionsRebuildAReluOutputAndASliceOfIt) {
  Variable x = leaf({2, 3, 6, 6}, 13), w1 = leaf({2, 3, 1, 1}, 14), w2 = leaf({2, 3, 1, 1}, 15);
  Slice2dParams shift;
  shift.offset_h = shift.offset_w = 1;
  shift.out_h = shift.out_w = 5;
  const Variable r1 = leaf({2, 2, 6, 6}, 16).detach(), r2 = leaf({2, 2, 5, 5}, 17).detach();
  auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
    const Variable r = relu(x);
    const Variable shifted = slice2d(r, shift);
    watched = {r.value().storage(), shifted.value().storage()};
    return add(sum(mul(conv2d(r, w1, Variable(), pointwise()), r1)),
               sum(mul(conv2d(shifted, w2, Variable(), pointwise()), r2)));
  };
  const auto [rebuilt, kept] = both_paths(forward, {x, w1, w2});
  EXPECT_EQ(rebuilt.freed, (std::vector<bool>{true, true}));
  EXPECT_EQ(kept.freed, (std::vector<bool>{false, false}));
}

Pool2dParams pool3x3(PoolMode mode, int64_t stride) {
  Pool2dParams p;
  p.mode = mode;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = 1;
  return p;
}

// A mixed op's candidates: the pools' outputs feed the α-weighted sums only, whose backward reads
// them (for x̂ and dα); both sums rebuild them from x.
TEST(Recompute, TheMixedSumsRebuildTheirPoolCandidates) {
  for (int64_t stride : {1, 2}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    Variable x = leaf({2, 3, 8, 6}, 9), w_dw = leaf({3, 1, 3, 3}, 10), alpha = leaf({3}, 11);
    DepthwiseConv2dParams dw = sep3();
    dw.stride = stride;
    const Shape out{2, 3, 8 / stride, 6 / stride};
    const Variable r = leaf(out, 12).detach();
    Tensor mean_max = Tensor::zeros({3}, DType::f64), var_max = Tensor::full({3}, 1.0, DType::f64);
    BnMixedSumParams bn;
    bn.normalize = {true, true, false};
    auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
      const Variable mx = pool2d(x, pool3x3(PoolMode::max, stride));
      const Variable av = pool2d(x, pool3x3(PoolMode::avg, stride));
      watched = {mx.value().storage(), av.value().storage()};
      const std::vector<Variable> candidates{mx, av, depthwise_conv2d(x, w_dw, dw)};
      const Variable folded = bn_mixed_sum(alpha, candidates, {mean_max, Tensor(), Tensor()},
                                           {var_max, Tensor(), Tensor()}, bn);
      return add(sum(mul(folded, r)), sum(mul(mixed_sum(alpha, candidates), r)));
    };
    const auto [rebuilt, kept] = both_paths(forward, {x, w_dw, alpha});
    EXPECT_EQ(rebuilt.freed, (std::vector<bool>{true, true}));
    EXPECT_EQ(kept.freed, (std::vector<bool>{false, false}));
    EXPECT_EQ(rebuilt.pool_forwards, 4);  // each pool for each sum
    EXPECT_EQ(kept.pool_forwards, 0);
  }
}

// A stencil group's outputs, each read by its own 1×1 convolution for the weight gradient, are
// rebuilt together: one group launch for all of them, however many consumers ask.
TEST(Recompute, AStencilGroupIsRebuiltOnceForAllItsConsumers) {
  Variable x = leaf({2, 3, 6, 6}, 31), w_a = leaf({3, 1, 3, 3}, 32), w_b = leaf({3, 1, 5, 5}, 33);
  Variable w_pa = leaf({4, 3, 1, 1}, 34), w_pb = leaf({4, 3, 1, 1}, 35);
  DepthwiseConv2dParams sep5 = sep3();
  sep5.pad_h = sep5.pad_w = 2;
  const std::vector<Stencil> stencils{Stencil::depthwise(sep3()), Stencil::depthwise(sep5)};
  const Variable r = leaf({2, 4, 6, 6}, 36).detach();
  auto forward = [&](std::vector<std::weak_ptr<Storage>>& watched) {
    const std::vector<Variable> d = stencil_group(x, {w_a, w_b}, stencils);
    for (const Variable& v : d) watched.push_back(v.value().storage());
    return sum(mul(add(conv2d(d[0], w_pa, Variable(), pointwise()),
                       conv2d(d[1], w_pb, Variable(), pointwise())),
                   r));
  };
  const auto [rebuilt, kept] = both_paths(forward, {x, w_a, w_b, w_pa, w_pb});
  EXPECT_TRUE(rebuilt.freed.at(0) && rebuilt.freed.at(1)) << "a group output outlived the forward";
  EXPECT_EQ(rebuilt.group_forwards, 1);
  EXPECT_EQ(kept.group_forwards, 0);
}

// What `op` computes in one call (FLOPs counted by the profile).
template <class Op>
int64_t flops_of(const char* entry, Op&& op) {
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    NoGradGuard no_grad;
    op();
  }
  return profile.by_op().at(entry).cost.flops;
}

// Only the outputs some backward closure keeps are rebuilt: a 1×1 convolution whose weight needs
// no gradient (the α pass) keeps nothing of its input, so that member of the group is left out of
// the rebuild; the rebuilt group computes exactly what the wanted member alone does.
TEST(Recompute, AGroupRebuildsOnlyTheOutputsBackwardReads) {
  Variable x = leaf({2, 3, 6, 6}, 41), w_a = leaf({3, 1, 3, 3}, 42), w_b = leaf({3, 1, 5, 5}, 43);
  Variable w_pa = leaf({4, 3, 1, 1}, 44);
  const Variable w_pb = leaf({4, 3, 1, 1}, 45, -1.0, 1.0, /*requires_grad=*/false);
  DepthwiseConv2dParams sep5 = sep3();
  sep5.pad_h = sep5.pad_w = 2;
  const Variable r = leaf({2, 4, 6, 6}, 46).detach();
  auto loss_of = [&](const std::vector<Variable>& d) {
    return sum(mul(add(conv2d(d[0], w_pa, Variable(), pointwise()),
                       conv2d(d[1], w_pb, Variable(), pointwise())),
                   r));
  };
  {
    SCOPED_TRACE("stencil group");
    const std::vector<Stencil> stencils{Stencil::depthwise(sep3()), Stencil::depthwise(sep5)};
    auto forward = [&](std::vector<std::weak_ptr<Storage>>&) {
      return loss_of(stencil_group(x, {w_a, w_b}, stencils));
    };
    const auto [rebuilt, kept] = both_paths(forward, {x, w_a, w_b, w_pa});
    EXPECT_EQ(rebuilt.group_forwards, 1);
    EXPECT_EQ(rebuilt.group_flops, flops_of("stencil_group_forward", [&] {
                return stencil_group(x, {w_a}, {stencils[0]});
              })) << "the rebuild computed more than the one member backward reads";
  }
  {
    SCOPED_TRACE("depthwise group");
    Variable y = leaf({2, 3, 6, 6}, 47);
    auto forward = [&](std::vector<std::weak_ptr<Storage>>&) {
      return loss_of(depthwise_group({x, y}, {w_a, w_b}, {sep3(), sep5}));
    };
    const auto [rebuilt, kept] = both_paths(forward, {x, y, w_a, w_b, w_pa});
    EXPECT_EQ(rebuilt.depthwise_group_forwards, 1);
    EXPECT_EQ(rebuilt.depthwise_group_flops, flops_of("depthwise_group_forward", [&] {
                return depthwise_group({x}, {w_a}, {sep3()});
              })) << "the rebuild computed more than the one member backward reads";
  }
}

}  // namespace
}  // namespace autonet
