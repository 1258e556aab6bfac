// How gradient contributions land (autograd/variable.h, GradTarget): kernels that can accumulate
// add into an existing gradient in place, sums hand their dL/dy on without copying, and the
// results are bit for bit those of the reference path (each contribution written apart and added
// with axpby).
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/functions.h"
#include "gradcheck.h"
#include "runtime/op_profile.h"

namespace autonet {
namespace {
using test::leaf;

struct SweepResult {
  std::vector<Tensor> grads;
  int64_t axpby_launches = 0;
};

// Runs backward of `loss()` and returns the gradients of `inputs` (cleared first) and how many
// axpby launches the sweep made.
template <class Loss>
SweepResult run_backward(Loss&& loss, const std::vector<Variable>& inputs) {
  for (Variable v : inputs) v.clear_grad();
  const Variable l = loss();
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    backward(l);
  }
  SweepResult run;
  for (const Variable& v : inputs) run.grads.push_back(v.grad().clone());
  const auto ops = profile.by_op();
  if (ops.count("axpby")) run.axpby_launches = ops.at("axpby").cost.launches;
  return run;
}

template <class Loss>
void expect_bit_identical_to_separate_contributions(Loss&& loss, const std::vector<Variable>& inputs,
                                                    SweepResult* fused_out = nullptr) {
  const SweepResult fused = run_backward(loss, inputs);
  SweepResult separate;
  {
    SeparateGradContributionsGuard reference;
    separate = run_backward(loss, inputs);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& a = fused.grads[i];
    const Tensor& b = separate.grads[i];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.data<double>(), b.data<double>(), a.nbytes()), 0)
        << "gradient of input " << i << " differs from the reference path";
  }
  EXPECT_LT(fused.axpby_launches, separate.axpby_launches);
  if (fused_out) *fused_out = fused;
}

Pool2dParams pool3x3(PoolMode mode) {
  Pool2dParams p;
  p.mode = mode;
  p.pad_h = p.pad_w = 1;
  return p;
}

// A DARTS state: one input read by a max pool, an average pool, two depthwise convs with the
// folded ReLU and a relu, its gradient summed from all five.
TEST(GradLanding, KernelsAccumulateIntoASharedInputBitIdentically) {
  Variable x = leaf({2, 3, 7, 6}, 1);
  Variable w3 = leaf({3, 1, 3, 3}, 2), w5 = leaf({3, 1, 5, 5}, 3);
  const Variable r = leaf({2, 3, 7, 6}, 9).detach();  // weights of the loss, no gradient
  DepthwiseConv2dParams sep3, dil5;
  sep3.pad_h = sep3.pad_w = 1, sep3.relu_input = true;
  dil5.pad_h = dil5.pad_w = 4, dil5.dilation = 2, dil5.relu_input = true;
  auto loss = [&] {
    Variable y = pool2d(x, pool3x3(PoolMode::max));
    y = add(y, pool2d(x, pool3x3(PoolMode::avg)));
    y = add(y, depthwise_conv2d(x, w3, sep3));
    y = add(y, depthwise_conv2d(x, w5, dil5));
    y = add(y, relu(x));
    return sum(mul(y, r));
  };
  SweepResult fused;
  expect_bit_identical_to_separate_contributions(loss, {x, w3, w5}, &fused);
  // The four adds hand their gradient on (no copies), and the five kernels add into x's
  // gradient themselves.
  EXPECT_EQ(fused.axpby_launches, 0);
}

// Two DARTS nodes, each one fused sum of its candidates (bn_mixed_sum): node 1 takes the state x
// (skip_connect) and node 0, node 0 takes x and a pool of x. The sweep reaches node 1 first, which
// gives x its gradient; node 0's sum and the pool then add into it themselves.
TEST(GradLanding, FusedNodeSumsAddIntoAStatesGradientBitIdentically) {
  Variable x = leaf({2, 3, 5, 4}, 1);
  Variable w0 = leaf({2}, 2), w1 = leaf({2}, 3);
  const Variable r = leaf({2, 3, 5, 4}, 9).detach();
  BnMixedSumParams p;
  p.normalize = {false, true};  // the state as it is, the other candidate through its BN
  const std::vector<Tensor> untracked(2);
  auto loss = [&] {
    const Variable node0 = bn_mixed_sum(w0, {x, pool2d(x, pool3x3(PoolMode::avg))}, untracked,
                                        untracked, p);
    const Variable node1 = bn_mixed_sum(w1, {x, node0}, untracked, untracked, p);
    return sum(mul(node1, r));
  };
  SweepResult fused;
  expect_bit_identical_to_separate_contributions(loss, {x, w0, w1}, &fused);
  EXPECT_EQ(fused.axpby_launches, 0);
}

// A borrowed gradient (a sum's dL/dy, shared with the sum and its other input) must never be
// added into in place. The sweep reaches s = u + v first, so u and v borrow s's gradient; then
// relu(u)'s backward, which could accumulate, must give u a copy: s's retained gradient shows
// whether the shared tensor was touched.
TEST(GradLanding, ABorrowedGradientIsCopiedBeforeAnythingAddsToIt) {
  Variable x = leaf({4, 5}, 4), z = leaf({4, 5}, 5);
  auto sweep = [&] {
    x.clear_grad(), z.clear_grad();
    Variable u = scale(x, 1.5), v = scale(z, -0.5);
    Variable s = add(u, v);
    s.retain_grad();
    backward(add(sum(mul(relu(u), x.detach())), sum(mul(s, s))));
    return std::vector<Tensor>{x.grad().clone(), z.grad().clone(), s.grad().clone()};
  };
  const std::vector<Tensor> fused = sweep();
  std::vector<Tensor> separate;
  {
    SeparateGradContributionsGuard reference;
    separate = sweep();
  }
  for (size_t i = 0; i < fused.size(); ++i)
    EXPECT_EQ(fused[i].to_vector<double>(), separate[i].to_vector<double>()) << "gradient " << i;
}

// Two targets of one slot open in the same kernel call: only the first may add in place, the
// second writes a tensor of its own (else the kernel would race on one buffer); finish() adds it.
TEST(GradLanding, TwoTargetsOfOneSlotInOneCallStayApart) {
  GradSlot slot;
  slot.requires_grad = true;
  slot.grad = Tensor::from_vector<double>({1, 2}, {2});
  const TensorSpec spec = TensorSpec::of(slot.grad);
  GradTarget first(slot, spec, /*can_accumulate=*/true), second(slot, spec, true);
  EXPECT_EQ(first.mode, GradMode::Accumulate);
  EXPECT_EQ(first.tensor.data<double>(), slot.grad.data<double>());
  EXPECT_EQ(second.mode, GradMode::Write);
  EXPECT_NE(second.tensor.data<double>(), slot.grad.data<double>());
  first.tensor.data<double>()[0] += 10, first.tensor.data<double>()[1] += 20;  // the "kernel"
  second.tensor.data<double>()[0] = 100, second.tensor.data<double>()[1] = 200;
  first.finish();
  second.finish();
  EXPECT_EQ(slot.grad.to_vector<double>(), (std::vector<double>{111, 222}));
  EXPECT_FALSE(slot.target_open);
  // A kernel that can only write never gets the gradient itself.
  GradTarget write_only(slot, spec);
  EXPECT_EQ(write_only.mode, GradMode::Write);
  EXPECT_NE(write_only.tensor.data<double>(), slot.grad.data<double>());
}

// Leaves never borrow: their gradient is their own to keep and to scale in place.
TEST(GradLanding, LeavesKeepTheirOwnGradient) {
  Variable a = leaf({3}, 7), b = leaf({3}, 8);
  backward(sum(add(a, b)));
  ASSERT_TRUE(a.grad().defined() && b.grad().defined());
  EXPECT_FALSE(a.slot().grad_is_borrowed);
  EXPECT_NE(a.grad().data<double>(), b.grad().data<double>());
  a.grad().data<double>()[0] = 42.0;
  EXPECT_EQ(b.grad().data<double>()[0], 1.0);
}

}  // namespace
}  // namespace autonet
