// Every differentiable wrapper against float64 finite differences through the tape, on small
// shapes, plus the forward values a wrapper computes itself (shapes, no-gradient paths).
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/functions_rnn_cell.h"
#include "autograd/state_stack.h"
#include "gradcheck.h"
#include "runtime/op_profile.h"

namespace autonet {
namespace {
using test::expect_gradients_match;
using test::leaf;

Tensor labels(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(v, {static_cast<int64_t>(v.size())});
}

TEST(Functions, SumAndMean) {
  Variable x = leaf({3, 4, 5}, 1);
  expect_gradients_match([&] { return sum(x); }, {x});
  expect_gradients_match([&] { return mean(tanh(x)); }, {x});
  expect_gradients_match([&] { return sum(x, 1); }, {x});
  expect_gradients_match([&] { return mean(x, -1); }, {x});
  EXPECT_EQ(sum(x, 0).shape(), (Shape{4, 5}));
  EXPECT_NEAR(mean(x).value().item() * 60, sum(x).value().item(), 1e-12);
}

TEST(Functions, MatmulAndLinear) {
  Variable a = leaf({3, 4}, 2), b = leaf({4, 5}, 3);
  expect_gradients_match([&] { return matmul(a, b); }, {a, b});
  // a on both sides: two contributions into one gradient.
  expect_gradients_match([&] { return matmul(a, view(tanh(a), {4, 3})); }, {a});
  Variable x = leaf({6, 4}, 4), w = leaf({3, 4}, 5), bias = leaf({3}, 6);
  expect_gradients_match([&] { return linear(x, w, bias); }, {x, w, bias});
  expect_gradients_match([&] { return linear(x, w); }, {x, w});
}

TEST(Functions, Conv2d) {
  Variable x = leaf({2, 3, 7, 6}, 7), w = leaf({4, 3, 3, 3}, 8), bias = leaf({4}, 9);
  Conv2dParams p;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 1;
  expect_gradients_match([&] { return conv2d(x, w, bias, p); }, {x, w, bias}, 1e-6, 40);
  Variable w1 = leaf({5, 3, 1, 1}, 10);
  expect_gradients_match([&] { return conv2d(x, w1, Variable(), Conv2dParams{}); }, {x, w1}, 1e-6,
                         40);
}

TEST(Functions, DepthwiseConv2dWithFoldedRelu) {
  Variable x = leaf({2, 3, 7, 7}, 11), w = leaf({3, 1, 5, 5}, 12);
  DepthwiseConv2dParams p;
  p.pad_h = p.pad_w = 4;
  p.dilation = 2;
  p.relu_input = true;
  expect_gradients_match([&] { return depthwise_conv2d(x, w, p); }, {x, w}, 1e-6, 40);
  // Folding equals applying relu first.
  DepthwiseConv2dParams plain = p;
  plain.relu_input = false;
  NoGradGuard guard;
  const auto folded = depthwise_conv2d(x, w, p).value().to_vector<double>();
  const auto unfolded = depthwise_conv2d(relu(x), w, plain).value().to_vector<double>();
  ASSERT_EQ(folded.size(), unfolded.size());
  for (size_t i = 0; i < folded.size(); ++i) EXPECT_NEAR(folded[i], unfolded[i], 1e-12);
}

TEST(Functions, Pooling) {
  Variable x = leaf({2, 3, 7, 7}, 13);
  expect_gradients_match([&] { return max_pool2d(x, 3, 2, 1); }, {x}, 1e-6, 50);
  expect_gradients_match([&] { return avg_pool2d(x, 3, 1, 1); }, {x}, 1e-6, 50);
  expect_gradients_match([&] { return avg_pool2d(x, 3, 2, 1, true); }, {x}, 1e-6, 50);
  expect_gradients_match([&] { return global_avg_pool(x); }, {x}, 1e-6, 50);
  EXPECT_EQ(max_pool2d(x, 3, 2, 1).shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(global_avg_pool(x).shape(), (Shape{2, 3}));
}

// An op of several outputs (make_results): each output carries its own gradient, an unused one
// none, and the op's backward runs once for all of them.
TEST(Functions, StencilGroupOutputsCarryTheirOwnGradients) {
  Variable x = leaf({2, 3, 7, 7}, 17), w3 = leaf({3, 1, 3, 3}, 18), w5 = leaf({3, 1, 5, 5}, 19);
  DepthwiseConv2dParams sep3, dil5;
  sep3.pad_h = sep3.pad_w = 1;
  sep3.relu_input = dil5.relu_input = true;
  dil5.pad_h = dil5.pad_w = 4;
  dil5.dilation = 2;
  Pool2dParams max;
  max.pad_h = max.pad_w = 1;
  const std::vector<Stencil> stencils{Stencil::depthwise(sep3), Stencil::pooling(max),
                                      Stencil::depthwise(dil5)};
  auto outputs = [&] { return stencil_group(x, {w3, Variable(), w5}, stencils); };
  expect_gradients_match([&] {
    const std::vector<Variable> y = outputs();
    return add(add(y[0], scale(y[2], 2.0)), y[1]);
  }, {x, w3, w5}, 1e-6, 40);
  expect_gradients_match([&] {  // the pool's output unused
    const std::vector<Variable> y = outputs();
    return add(y[0], y[2]);
  }, {x, w3, w5}, 1e-6, 40);
  OpProfile profile;
  {
    const std::vector<Variable> y = outputs();
    OpProfileScope scope(profile);
    backward(sum(add(add(y[0], y[1]), y[2])));
  }
  EXPECT_EQ(profile.by_op().at("stencil_group_backward").calls, 1);
}

// A group of 1×1 convolutions: each output carries its own gradient to its own input and weight,
// an unused output none, an input feeding two members gets both contributions, and the group's
// backward is one kernel call.
TEST(Functions, PointwiseGroupOutputsCarryTheirOwnGradients) {
  Variable x0 = leaf({2, 3, 4, 5}, 21), x1 = leaf({2, 3, 4, 5}, 22);
  Variable w0 = leaf({4, 3, 1, 1}, 23), w1 = leaf({4, 3, 1, 1}, 24), w2 = leaf({4, 3, 1, 1}, 25);
  auto outputs = [&] { return pointwise_group({x0, x1, x0}, {w0, w1, w2}); };
  expect_gradients_match([&] {
    const std::vector<Variable> y = outputs();
    return add(add(y[0], scale(y[1], 2.0)), tanh(y[2]));
  }, {x0, x1, w0, w1, w2}, 1e-6, 40);
  expect_gradients_match([&] {  // the second output unused
    const std::vector<Variable> y = outputs();
    return add(y[0], y[2]);
  }, {x0, w0, w2}, 1e-6, 40);
  x1.clear_grad();
  {
    const std::vector<Variable> y = outputs();
    backward(sum(y[0]));
  }
  EXPECT_FALSE(x1.grad().defined()) << "an unused output sent its input a gradient";
  OpProfile profile;
  {
    const std::vector<Variable> y = outputs();
    OpProfileScope scope(profile);
    backward(sum(add(add(y[0], y[1]), y[2])));
  }
  EXPECT_EQ(profile.by_op().at("pointwise_group_backward").calls, 1);
}

// Members on their own inputs: each output carries its own gradient into its x and filter, also
// where two members share an x or a filter, an unused output none; one backward for the group.
TEST(Functions, DepthwiseGroupOutputsCarryTheirOwnGradients) {
  Variable a = leaf({2, 3, 7, 7}, 20), b = leaf({2, 3, 7, 7}, 21);
  Variable w3 = leaf({3, 1, 3, 3}, 22), w5 = leaf({3, 1, 5, 5}, 23);
  DepthwiseConv2dParams sep3, sep5, dil3;
  sep3.pad_h = sep3.pad_w = dil3.pad_h = dil3.pad_w = 1;
  sep5.pad_h = sep5.pad_w = 2;
  dil3.dilation = 2;
  dil3.pad_h = dil3.pad_w = 2;
  sep3.relu_input = sep5.relu_input = true;
  // Members 0 and 2 read the same x (a) and use the same filter (w3).
  auto outputs = [&] { return depthwise_group({a, b, a}, {w3, w5, w3}, {sep3, sep5, dil3}); };
  expect_gradients_match([&] {
    const std::vector<Variable> y = outputs();
    return add(add(y[0], scale(y[1], 2.0)), y[2]);
  }, {a, b, w3, w5}, 1e-6, 40);
  expect_gradients_match([&] {  // member 1's output unused
    const std::vector<Variable> y = outputs();
    return add(y[0], scale(y[2], 3.0));
  }, {a, b, w3, w5}, 1e-6, 40);
  OpProfile profile;
  {
    const std::vector<Variable> y = outputs();
    OpProfileScope scope(profile);
    backward(sum(add(add(y[0], y[1]), y[2])));
  }
  EXPECT_EQ(profile.by_op().at("depthwise_group_backward").calls, 1);
}

// Batch norms folded into the depthwise convs after them: the same values, gradients and running
// statistics as batch_norm_group then depthwise_group, bit for bit on the CPU, and float64 finite
// differences through the BNs' statistics; forward the BNs' statistics and one conv launch.
TEST(Functions, BatchNormDepthwiseGroupEqualsTheTwoGroups) {
  Variable a = leaf({3, 2, 5, 4}, 50, -1.0, 2.0), b = leaf({3, 2, 5, 4}, 51);
  Variable w3 = leaf({2, 1, 3, 3}, 52), w5 = leaf({2, 1, 5, 5}, 53);
  DepthwiseConv2dParams sep3, sep5;
  sep3.pad_h = sep3.pad_w = 1;
  sep5.pad_h = sep5.pad_w = 2;
  sep3.relu_input = sep5.relu_input = true;
  BatchNormParams train;
  train.momentum = 0.25;
  const auto stats = [] {
    return std::vector<Tensor>{Tensor::zeros({2}, DType::f64), Tensor::zeros({2}, DType::f64)};
  };
  std::vector<Tensor> folded_means = stats(), folded_vars = stats();
  std::vector<Tensor> alone_means = stats(), alone_vars = stats();
  const auto folded = [&] {
    return batch_norm_depthwise_group({a, b}, folded_means, folded_vars, train, {w3, w5},
                                      {sep3, sep5});
  };
  const auto alone = [&] {
    return depthwise_group(batch_norm_group({a, b}, alone_means, alone_vars, train), {w3, w5},
                           {sep3, sep5});
  };
  const auto loss = [](const std::vector<Variable>& y) { return sum(add(y[0], scale(y[1], 2.0))); };
  std::vector<std::vector<double>> runs[2];
  for (int run = 0; run < 2; ++run) {
    for (Variable* v : {&a, &b, &w3, &w5}) v->clear_grad();
    const std::vector<Variable> y = run == 0 ? folded() : alone();
    backward(loss(y));
    for (const Variable& v : {y[0], y[1]}) runs[run].push_back(v.value().to_vector<double>());
    for (const Variable* v : {&a, &b, &w3, &w5}) runs[run].push_back(v->grad().to_vector<double>());
  }
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_EQ(runs[0][i], runs[1][i]) << "tensor " << i;
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(folded_means[k].to_vector<double>(), alone_means[k].to_vector<double>());
    EXPECT_EQ(folded_vars[k].to_vector<double>(), alone_vars[k].to_vector<double>());
  }
  expect_gradients_match([&] { return loss(folded()); }, {a, b, w3, w5}, 1e-5, 40);
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    folded();
  }
  const auto ops = profile.by_op();
  EXPECT_EQ(ops.at("batch_norm_group_forward").cost.launches, 1);  // statistics only
  EXPECT_EQ(ops.at("depthwise_group_forward").cost.launches, 1);
}

// The recurrent search node and the cell's batch norm after it as one node equal the mix node
// then the BN node: values, gradients and running statistics bit for bit, in training and eval.
TEST(Functions, RnnMixBatchNormIsMixThenBatchNorm) {
  Variable ch = leaf({3, 5, 8}, 70), s = leaf({3, 5, 4}, 71), w = leaf({3, 4}, 72, 0.0, 1.0);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "train" : "eval");
    BatchNormParams p;
    p.training = training;
    p.momentum = 0.2;
    std::vector<std::vector<double>> runs[2];
    for (int run = 0; run < 2; ++run) {
      for (Variable* v : {&ch, &s, &w}) v->clear_grad();
      Tensor running_mean = Tensor::full({4}, 0.25, DType::f64);
      Tensor running_var = Tensor::full({4}, 1.5, DType::f64);
      const Variable y = run == 0 ? rnn_mix_batch_norm(ch, s, w, running_mean, running_var, p)
                                  : batch_norm(rnn_mix(ch, s, w), Variable(), Variable(),
                                               running_mean, running_var, p);
      backward(sum(mul(y, y)));
      runs[run].push_back(y.value().to_vector<double>());
      for (const Variable* v : {&ch, &s, &w}) runs[run].push_back(v->grad().to_vector<double>());
      runs[run].push_back(running_mean.to_vector<double>());
      runs[run].push_back(running_var.to_vector<double>());
    }
    for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_EQ(runs[0][i], runs[1][i]) << "tensor " << i;
  }
  BatchNormParams untracked;
  expect_gradients_match(
      [&] { return rnn_mix_batch_norm(ch, s, w, Tensor(), Tensor(), untracked); }, {ch, s, w},
      1e-6, 24);
}

// A recurrent search cell's state stack: its rows and their locked-dropout copy are stack then
// dropout of the pushed states, and its later rows stack of theirs: values and gradients bit for
// bit, with a state that already holds a gradient (it feeds a later node too) and one that does
// not; gradients by finite differences; each state copied once (with its dropout copy) on push,
// the views copying nothing.
TEST(StateStack, RowsAreStackThenDropoutOfThePushedStates) {
  Variable a = leaf({4, 6}, 60), b = leaf({4, 6}, 61), c = leaf({4, 6}, 62);
  const Variable wy = leaf({3, 4, 6}, 63, -1.0, 1.0, false);
  const Variable wd = leaf({3, 4, 6}, 64, -1.0, 1.0, false);
  const Variable wt = leaf({2, 4, 6}, 65, -1.0, 1.0, false);
  const DropoutParams locked{0.3, PhiloxKey{7, 1, 2}, 24};
  const auto loss = [&](bool stacked_once) {
    std::vector<Variable> stacks;
    Variable tail;
    if (stacked_once) {
      StateStack states(4, a.value(), locked);
      for (const Variable* v : {&a, &b, &c}) states.push(*v);
      stacks = states.leading_with_dropout(3);
      tail = states.rows(1, 3);
    } else {
      const Variable y = stack({a, b, c});
      stacks = {y, dropout(y, locked.p, locked.key, locked.mask_period)};
      tail = stack({b, c});
    }
    // a also feeds a later node (its gradient is there when the stack's arrives).
    return add(add(add(sum(mul(stacks[0], wy)), sum(mul(stacks[1], wd))), sum(mul(tail, wt))),
               sum(scale(a, 0.5)));
  };
  std::vector<std::vector<double>> runs[2];
  for (int run = 0; run < 2; ++run) {
    for (Variable* v : {&a, &b, &c}) v->clear_grad();
    const Variable l = loss(run == 0);
    backward(l);
    runs[run].push_back(l.value().to_vector<double>());
    for (const Variable* v : {&a, &b, &c}) runs[run].push_back(v->grad().to_vector<double>());
  }
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_EQ(runs[0][i], runs[1][i]) << "tensor " << i;
  expect_gradients_match([&] { return loss(true); }, {a, b, c}, 1e-6, 24);
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    backward(loss(true));
  }
  const auto ops = profile.by_op();
  const auto state_bytes = static_cast<int64_t>(a.value().nbytes());
  EXPECT_EQ(ops.at("stack_dropout_forward").cost.launches, 3);  // one a push
  EXPECT_EQ(ops.at("stack_dropout_forward").cost.bytes_written, 3 * 2 * state_bytes);
  EXPECT_EQ(ops.count("concat_forward") + ops.count("dropout_forward"), 0u);
  EXPECT_EQ(ops.at("stack_dropout_backward").cost.launches, 1);
  EXPECT_EQ(ops.at("concat_backward").cost.launches, 1);
}

TEST(StateStack, SaysWhatItCannotGive) {
  const Variable a = leaf({2, 3}, 66), b = leaf({2, 3}, 67);
  StateStack states(2, a.value(), DropoutParams{0.5, PhiloxKey{1, 2, 3}, 6});
  states.push(a);
  states.push(b, /*with_dropout=*/false);
  EXPECT_THROW(states.push(a), Error);                  // full
  EXPECT_THROW(states.leading_with_dropout(2), Error);  // b has no dropout copy
  EXPECT_THROW(states.rows(1, 3), Error);
  EXPECT_EQ(states.leading_with_dropout(1).size(), 2u);
  EXPECT_THROW(StateStack(2, a.value(), DropoutParams{0.5, PhiloxKey{}, 4}), Error);  // period
  StateStack plain(1, a.value(), DropoutParams{});
  plain.push(a);
  EXPECT_THROW(plain.leading_with_dropout(1), Error);  // no copies kept
}

// A group op's members are separate ops: a member on constants gives a constant output, so a
// sweep through the other members' outputs does no work for it (the group's backward costs what
// the needed member alone costs).
TEST(Functions, AGroupMemberOnConstantsGetsNoGradient) {
  const auto constant = [](Shape shape, uint64_t seed) {
    Variable v = leaf(std::move(shape), seed);
    v.set_requires_grad(false);
    return v;
  };
  const auto backward_flops = [](const std::vector<Variable>& ys, const char* op) {
    OpProfile profile;
    OpProfileScope scope(profile);
    Variable total = sum(ys[0]);
    for (size_t k = 1; k < ys.size(); ++k) total = add(total, sum(ys[k]));
    backward(total);
    return profile.by_op().at(op).cost.flops;
  };
  Variable x = leaf({2, 3, 4, 5}, 40), w = leaf({4, 3, 1, 1}, 41);
  Variable cx = constant({2, 3, 4, 5}, 42), cw = constant({4, 3, 1, 1}, 43);
  std::vector<Variable> y = pointwise_group({cx, x}, {cw, w});
  EXPECT_FALSE(y[0].requires_grad());
  EXPECT_TRUE(y[1].requires_grad());
  EXPECT_EQ(backward_flops(y, "pointwise_group_backward"),
            backward_flops(pointwise_group({x}, {w}), "pointwise_group_backward"));

  BatchNormParams train;
  y = batch_norm_group({cx, x}, {}, {}, train);
  EXPECT_FALSE(y[0].requires_grad());
  EXPECT_EQ(backward_flops(y, "batch_norm_group_backward"),
            backward_flops(batch_norm_group({x}, {}, {}, train), "batch_norm_group_backward"));

  DepthwiseConv2dParams sep3;
  sep3.pad_h = sep3.pad_w = 1;
  Variable dw = leaf({3, 1, 3, 3}, 44), cdw = constant({3, 1, 3, 3}, 45);
  y = depthwise_group({cx, x}, {cdw, dw}, {sep3, sep3});
  EXPECT_FALSE(y[0].requires_grad());
  EXPECT_EQ(backward_flops(y, "depthwise_group_backward"),
            backward_flops(depthwise_group({x}, {dw}, {sep3}), "depthwise_group_backward"));

  // A stencil group's members share x: on a constant x, a pool's output is constant, a
  // depthwise conv's with a filter that learns is not.
  Pool2dParams max;
  max.pad_h = max.pad_w = 1;
  y = stencil_group(cx, {Variable(), dw}, {Stencil::pooling(max), Stencil::depthwise(sep3)});
  EXPECT_FALSE(y[0].requires_grad());
  EXPECT_TRUE(y[1].requires_grad());
}

TEST(Functions, BatchNormTrainingAndEval) {
  Variable x = leaf({4, 3, 3, 2}, 14, -2.0, 3.0);
  Variable w = leaf({3}, 15, 0.5, 1.5), b = leaf({3}, 16);
  Tensor running_mean = Tensor::zeros({3}, DType::f64);
  Tensor running_var = Tensor::full({3}, 1.0, DType::f64);
  BatchNormParams train;
  expect_gradients_match(
      [&] { return batch_norm(x, w, b, running_mean, running_var, train); }, {x, w, b}, 1e-5);
  expect_gradients_match(
      [&] { return batch_norm(x, Variable(), Variable(), Tensor(), Tensor(), train); }, {x}, 1e-5);
  Variable x2 = leaf({5, 3}, 17);
  expect_gradients_match([&] { return batch_norm(x2, w, b, Tensor(), Tensor(), train); },
                         {x2, w, b}, 1e-5);
  // The forward passes above moved the running statistics away from their start.
  EXPECT_NE(running_mean.to_vector<double>(), std::vector<double>(3, 0.0));
  BatchNormParams eval;
  eval.training = false;
  const auto mean_before = running_mean.to_vector<double>();
  expect_gradients_match(
      [&] { return batch_norm(x, w, b, running_mean, running_var, eval); }, {x, w, b}, 1e-6);
  EXPECT_EQ(running_mean.to_vector<double>(), mean_before);  // eval leaves them alone
}

// K affine-free BNs in one op: each output carries its own gradient (an unused one none), an
// input feeding two members or another op too gathers every contribution, and the values and
// gradients are the single op's bit for bit.
TEST(Functions, BatchNormGroupEqualsTheSingleOps) {
  Variable x0 = leaf({4, 3, 3, 2}, 30, -2.0, 3.0), x1 = leaf({4, 3, 3, 2}, 31);
  Variable x2 = leaf({4, 3, 3, 2}, 32, 0.0, 5.0);
  BatchNormParams train;
  expect_gradients_match([&] {
    const std::vector<Variable> y = batch_norm_group({x0, x1, x2}, {}, {}, train);
    return add(add(y[0], scale(y[1], 2.0)), y[2]);
  }, {x0, x1, x2}, 1e-5);
  expect_gradients_match([&] {  // member 1 unused; x0 in two members and beside the op
    const std::vector<Variable> y = batch_norm_group({x0, x1, x0, x2}, {}, {}, train);
    return add(add(mul(y[0], x0), y[2]), tanh(y[3]));
  }, {x0, x2}, 1e-5);

  // Against the single ops, running statistics included, training then eval.
  const auto stats = [](double v) {
    std::vector<Tensor> t;
    for (int k = 0; k < 3; ++k) t.push_back(Tensor::full({3}, v + k, DType::f64));
    return t;
  };
  std::vector<Tensor> rm = stats(0.0), rv = stats(1.0), ref_rm = stats(0.0), ref_rv = stats(1.0);
  BatchNormParams eval;
  eval.training = false;
  const std::vector<Variable> xs{x0, x1, x2};
  for (const BatchNormParams& p : {train, eval}) {
    for (Variable v : xs) v.clear_grad();
    const std::vector<Variable> y = batch_norm_group(xs, rm, rv, p);
    backward(sum(add(add(mul(y[0], x1), y[1]), tanh(y[2]))));
    std::vector<Tensor> grads;
    for (const Variable& v : xs) grads.push_back(v.grad().clone());
    for (Variable v : xs) v.clear_grad();
    std::vector<Variable> ref;
    for (size_t k = 0; k < xs.size(); ++k)
      ref.push_back(batch_norm(xs[k], Variable(), Variable(), ref_rm[k], ref_rv[k], p));
    backward(sum(add(add(mul(ref[0], x1), ref[1]), tanh(ref[2]))));
    for (size_t k = 0; k < xs.size(); ++k) {
      EXPECT_EQ(y[k].value().to_vector<double>(), ref[k].value().to_vector<double>()) << k;
      EXPECT_EQ(grads[k].to_vector<double>(), xs[k].grad().to_vector<double>()) << k;
      EXPECT_EQ(rm[k].to_vector<double>(), ref_rm[k].to_vector<double>()) << k;
      EXPECT_EQ(rv[k].to_vector<double>(), ref_rv[k].to_vector<double>()) << k;
    }
  }
  // One backward call for the whole group.
  OpProfile profile;
  {
    const std::vector<Variable> y = batch_norm_group(xs, {}, {}, train);
    OpProfileScope scope(profile);
    backward(sum(add(add(y[0], y[1]), y[2])));
  }
  EXPECT_EQ(profile.by_op().at("batch_norm_group_backward").calls, 1);
}

TEST(Functions, MixedSum) {
  Variable weights = leaf({3}, 18), y0 = leaf({2, 3, 4}, 19), y1 = leaf({2, 3, 4}, 20);
  Variable none = zeros({2, 3, 4}, DType::f64, Device::cpu());
  expect_gradients_match([&] { return mixed_sum(weights, {y0, none, tanh(y1)}); },
                         {weights, y0, y1});
  // Constant weights (the weight step of DARTS): only the candidates get gradients.
  Variable fixed = weights.detach();
  expect_gradients_match([&] { return mixed_sum(fixed, {y0, none, y1}); }, {y0, y1});
  // The same candidate twice: both contributions land in its gradient.
  expect_gradients_match([&] { return mixed_sum(weights, {y0, y0, y1}); }, {weights, y0, y1});
}

TEST(Functions, SoftmaxAndLosses) {
  Variable x = leaf({4, 5}, 21, -2.0, 2.0);
  expect_gradients_match([&] { return softmax(x); }, {x});
  expect_gradients_match([&] { return log_softmax(x); }, {x});
  const Tensor t = labels({0, 4, 2, 2});
  expect_gradients_match([&] { return cross_entropy(x, t); }, {x});
  expect_gradients_match([&] { return cross_entropy(x, t, 0.1); }, {x});
  expect_gradients_match([&] { return nll(log_softmax(x), t); }, {x});
  // nll(log_softmax) is cross-entropy.
  NoGradGuard guard;
  EXPECT_NEAR(nll(log_softmax(x), t).value().item(), cross_entropy(x, t).value().item(), 1e-12);
}

TEST(Functions, Embedding) {
  Variable w = leaf({6, 3}, 22);
  const Tensor ids = Tensor::from_vector<int64_t>({1, 5, 1, 0, 3, 1}, {2, 3});
  Variable e = embedding(w, ids);
  EXPECT_EQ(e.shape(), (Shape{2, 3, 3}));
  expect_gradients_match([&] { return tanh(embedding(w, ids)); }, {w});
}

TEST(Functions, Dropout) {
  Variable x = leaf({4, 8}, 23);
  const PhiloxKey key{99, 3, 0};
  expect_gradients_match([&] { return dropout(x, 0.3, key); }, {x});
  expect_gradients_match([&] { return dropout(x, 0.5, key, 8); }, {x});
  EXPECT_TRUE(dropout(x, 0.0, key).same(x));
  NoGradGuard guard;
  int dropped = 0;
  for (double v : dropout(x, 0.5, key).value().to_vector<double>()) dropped += v == 0.0;
  EXPECT_GT(dropped, 4);
  EXPECT_LT(dropped, 28);
}

TEST(Functions, ConcatAndSlice) {
  Variable a = leaf({2, 3, 4, 4}, 24), b = leaf({2, 1, 4, 4}, 25), c = leaf({2, 2, 4, 4}, 26);
  expect_gradients_match([&] { return concat({a, b, tanh(c), a}, 1); }, {a, b, c}, 1e-6, 40);
  EXPECT_EQ(concat({a, b, c}, 1).shape(), (Shape{2, 6, 4, 4}));
  Slice2dParams p;
  p.offset_h = p.offset_w = 1;
  p.stride_h = p.stride_w = 2;
  p.out_h = p.out_w = 2;
  expect_gradients_match([&] { return slice2d(a, p); }, {a}, 1e-6, 40);
  Variable s = slice2d(a, p);
  EXPECT_EQ(s.value().to_vector<double>()[0], a.value().to_vector<double>()[5]);  // (1, 1)
}

}  // namespace
}  // namespace autonet
