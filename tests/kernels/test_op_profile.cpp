// The step profile's counts at the kernel entries (runtime/op_profile.h): exact launches, bytes
// and FLOPs for ops whose CUDA twins are known launch by launch, scopes, and threads.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kernels/batch_norm.h"
#include "kernels/batch_norm_group.h"
#include "kernels/conv2d.h"
#include "kernels/depthwise_group.h"
#include "kernels/factorized_reduce.h"
#include "kernels/gemm.h"
#include "kernels/pointwise_group.h"
#include "kernels/pool2d.h"
#include "kernels/stencil_group.h"
#include "runtime/op_profile.h"
#include "runtime/side_stream.h"

namespace autonet {
namespace {

Tensor filled(const Shape& shape, double value = 0.5) {
  return Tensor::full(shape, value, DType::f32, Device::cpu());
}

OpTotals only(const OpProfile& profile, const std::string& op) {
  const auto ops = profile.by_op();
  EXPECT_EQ(ops.size(), 1u) << "expected only " << op;
  const auto it = ops.find(op);
  return it == ops.end() ? OpTotals{} : it->second;
}

TEST(OpProfile, GemmIsOneCallOfTwoMnkFlops) {
  const int64_t m = 5, k = 7, n = 3;
  const Tensor a = filled({m, k}), b = filled({k, n});
  Tensor c = filled({m, n});
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    gemm(a, b, c);                     // beta 0: C is not read
    gemm(a, b, c, {.beta = 1.0});      // beta 1: C is read too
  }
  const OpTotals t = only(profile, "gemm");
  EXPECT_EQ(t.calls, 2);
  EXPECT_EQ(t.cost.launches, 2);
  EXPECT_EQ(t.cost.library_calls, 2);  // cuBLAS's: one kernel each, or two if it splits K
  EXPECT_EQ(t.cost.flops, 2 * 2 * m * n * k);
  EXPECT_EQ(t.cost.bytes_read, 4 * (2 * (m * k + k * n) + m * n));
  EXPECT_EQ(t.cost.bytes_written, 4 * 2 * m * n);
  EXPECT_EQ(t.cost.side_launches, 0);
  profile.clear();
  {
    OpProfileScope scope(profile);
    gemm(a, b, c, {.beta = 1.0, .side_stream = true});  // a weight gradient
  }
  const OpTotals side = only(profile, "gemm");
  EXPECT_EQ(side.cost.side_launches, 1);
  EXPECT_EQ(side.cost.side_bytes, side.cost.bytes());
}

TEST(OpProfile, MaxPoolBackwardFindsItsArgmaxInTheSameLaunch) {
  const Tensor x = filled({2, 3, 8, 8});
  Pool2dParams p;
  p.pad_h = p.pad_w = 1;
  Tensor y = filled({2, 3, 8, 8}), dx = filled({2, 3, 8, 8});
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    pool2d_backward(x, y, dx, p);
  }
  const OpTotals max = only(profile, "pool2d_backward");
  EXPECT_EQ(max.cost.launches, 1);
  const int64_t n = x.numel();  // stride 1: as many outputs as inputs
  EXPECT_EQ(max.cost.bytes_read, 4 * n + 4 * n);  // x and dy, no arg-max buffer
  EXPECT_EQ(max.cost.bytes_written, 4 * n);       // dx
  profile.clear();
  {
    OpProfileScope scope(profile);
    pool2d_backward(x, y, dx, p, GradMode::Accumulate);
  }
  EXPECT_EQ(only(profile, "pool2d_backward").cost.bytes_read, 3 * 4 * n);  // dx read too
  profile.clear();
  p.mode = PoolMode::avg;
  {
    OpProfileScope scope(profile);
    pool2d_forward(x, y, p);
    pool2d_backward(x, y, dx, p);
  }
  EXPECT_EQ(profile.by_op().at("pool2d_backward").cost.launches, 1);
  EXPECT_EQ(profile.by_op().at("pool2d_forward").cost.flops, 9 * n);
}

TEST(OpProfile, PointwiseConvIsOneBatchedGemm) {
  const Tensor x = filled({4, 6, 5, 5}), w = filled({8, 6, 1, 1});
  Tensor y = filled({4, 8, 5, 5}), dx = filled(x.shape()), dw = filled(w.shape());
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    conv2d_forward(x, w, Tensor(), y, {});
    Tensor no_bias;
    conv2d_backward(x, w, y, dx, dw, no_bias, {});
  }
  const auto ops = profile.by_op();
  EXPECT_EQ(ops.at("conv2d_forward").cost.launches, 1);   // one strided batched GEMM on NCHW
  EXPECT_EQ(ops.at("conv2d_forward").cost.flops, 2 * 8 * 6 * 4 * 25);
  EXPECT_EQ(ops.at("conv2d_forward").cost.bytes(), 4 * (x.numel() + w.numel() + y.numel()));
  EXPECT_EQ(ops.at("conv2d_backward").cost.launches, 3);  // dx GEMM, dw partials GEMM, their sum
  EXPECT_EQ(ops.at("conv2d_forward").cost.library_calls, 1);
  EXPECT_EQ(ops.at("conv2d_backward").cost.library_calls, 2);
  EXPECT_EQ(ops.at("conv2d_backward").cost.flops, 2 * 2 * 8 * 6 * 4 * 25);
  // A strided 1×1 (FactorizedReduce) goes through im2col: col, GEMM, back to NCHW.
  Conv2dParams stride2;
  stride2.stride_h = stride2.stride_w = 2;
  Tensor half = filled({4, 8, 3, 3});
  profile.clear();
  {
    OpProfileScope scope(profile);
    conv2d_forward(x, w, Tensor(), half, stride2);
  }
  EXPECT_EQ(profile.by_op().at("conv2d_forward").cost.launches, 3);
  EXPECT_EQ(profile.by_op().at("conv2d_forward").cost.library_calls, 1);  // the GEMM
}

// A channel wider than kOneLaunchChannelValues: one statistics kernel and one elementwise
// kernel each way; a narrow one (the recurrent cells' [batch, nhid] BNs): one kernel each way,
// reading x (and dy) once.
TEST(OpProfile, BatchNormIsTwoKernelsEachWayOrOneForNarrowChannels) {
  for (const Shape& shape : {Shape{4, 3, 32, 32}, Shape{4, 3, 5, 5}, Shape{256, 300}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t channels = shape[1];
    const Tensor x = filled(shape);
    Tensor y = filled(shape), dx = filled(shape), mean = filled({channels});
    Tensor invstd = filled({channels}), running_mean = filled({channels});
    Tensor running_var = filled({channels}), none;
    OpProfile profile;
    {
      OpProfileScope scope(profile);
      batch_norm_forward(x, none, none, running_mean, running_var, y, mean, invstd, {});
      batch_norm_backward(x, none, mean, invstd, y, dx, none, none, {});
    }
    const auto ops = profile.by_op();
    const bool wide = shape == Shape{4, 3, 32, 32};
    EXPECT_EQ(batch_norm_in_one_launch(x), !wide);
    const int64_t n = x.numel(), channel = 4 * channels, launches = wide ? 2 : 1;
    EXPECT_EQ(ops.at("batch_norm_forward").cost.launches, launches);  // (statistics,) normalize
    // x twice (statistics, normalize) or once, the running statistics read once.
    EXPECT_EQ(ops.at("batch_norm_forward").cost.bytes_read,
              launches * 4 * n + 2 * channel + (wide ? 2 * channel : 0));
    EXPECT_EQ(ops.at("batch_norm_backward").cost.launches, launches);  // (Σdy and Σdy·x̂,) dx
    // x and dy twice or once; the saved statistics once, or again with the means for dx.
    EXPECT_EQ(ops.at("batch_norm_backward").cost.bytes_read,
              launches * 2 * 4 * n + (wide ? 6 : 2) * channel);
  }
}

TEST(OpProfile, BatchNormGroupIsTwoLaunchesEachWayForAllMembers) {
  // Three members, the last untracked: one statistics launch and one normalize launch for the
  // three (the single op takes two each); backward two launches for the two members with a dx.
  const int k_count = 3;
  const Shape shape{4, 3, 5, 5};
  std::vector<Tensor> xs, ys, means, invstds, rm, rv, dxs;
  for (int k = 0; k < k_count; ++k) {
    xs.push_back(filled(shape, 0.25 * (k + 1)));
    ys.push_back(filled(shape));
    means.push_back(filled({3}));
    invstds.push_back(filled({3}));
    rm.push_back(k < 2 ? filled({3}) : Tensor());
    rv.push_back(k < 2 ? filled({3}) : Tensor());
    dxs.push_back(k == 1 ? Tensor() : filled(shape));
  }
  const int64_t n = xs[0].numel(), channel = 4 * 3;
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    batch_norm_group_forward(xs, rm, rv, ys, means, invstds, {});
  }
  const OpTotals fwd = only(profile, "batch_norm_group_forward");
  EXPECT_EQ(fwd.cost.launches, 2);
  // Every x twice (statistics, normalize), two members' running statistics read and written once,
  // the saved statistics written and read back.
  EXPECT_EQ(fwd.cost.bytes_read, 2 * 4 * 3 * n + 2 * 2 * channel + 3 * 2 * channel);
  EXPECT_EQ(fwd.cost.bytes_written, 4 * 3 * n + 2 * 2 * channel + 3 * 2 * channel);
  EXPECT_EQ(fwd.cost.flops, 2 * 4 * 3 * n);
  profile.clear();
  BatchNormParams from_output;
  from_output.backward_from_output = true;
  {
    OpProfileScope scope(profile);
    batch_norm_group_backward(ys, means, invstds, ys, dxs, from_output);
  }
  const OpTotals bwd = only(profile, "batch_norm_group_backward");
  EXPECT_EQ(bwd.cost.launches, 2);
  // Two members: sums read y, dy, mean, invstd and write the means; dx reads them all again.
  EXPECT_EQ(bwd.cost.bytes_read, 2 * (4 * 2 * n + 2 * channel) + 2 * (4 * 2 * n + 4 * channel));
  EXPECT_EQ(bwd.cost.bytes_written, 2 * 2 * channel + 2 * 4 * n);
  profile.clear();
  BatchNormParams eval;
  eval.training = false;
  rm[2] = filled({3}), rv[2] = filled({3});
  {
    OpProfileScope scope(profile);
    batch_norm_group_forward(xs, rm, rv, ys, means, invstds, eval);
    batch_norm_group_backward(ys, means, invstds, ys, dxs, eval);
  }
  EXPECT_EQ(profile.by_op().at("batch_norm_group_forward").cost.launches, 2);
  EXPECT_EQ(profile.by_op().at("batch_norm_group_backward").cost.launches, 1);  // dx = dy·invstd
  profile.clear();
  std::vector<Tensor> no_dxs(k_count);
  {
    OpProfileScope scope(profile);
    batch_norm_group_backward(ys, means, invstds, ys, no_dxs, from_output);
  }
  EXPECT_EQ(only(profile, "batch_norm_group_backward").cost.launches, 0);
  // Statistics only (no outputs, for a consumer that normalises as it reads): one launch, each x
  // read once (all three members tracked since the eval pass); with one output, the normalize
  // launch reads and writes that member alone.
  profile.clear();
  std::vector<Tensor> no_ys(k_count), one_y{Tensor(), ys[1], Tensor()};
  {
    OpProfileScope scope(profile);
    batch_norm_group_forward(xs, rm, rv, no_ys, means, invstds, {});
  }
  const OpTotals stats = only(profile, "batch_norm_group_forward");
  EXPECT_EQ(stats.cost.launches, 1);
  EXPECT_EQ(stats.cost.bytes_read, 4 * 3 * n + 3 * 2 * channel);
  EXPECT_EQ(stats.cost.bytes_written, 3 * 2 * channel + 3 * 2 * channel);
  profile.clear();
  {
    OpProfileScope scope(profile);
    batch_norm_group_forward(xs, rm, rv, one_y, means, invstds, {});
  }
  const OpTotals one = only(profile, "batch_norm_group_forward");
  EXPECT_EQ(one.cost.launches, 2);
  EXPECT_EQ(one.cost.bytes_written, 3 * 2 * channel + 3 * 2 * channel + 4 * n);
}

TEST(OpProfile, StencilGroupReadsItsInputOnceEachWay) {
  // A depthwise 3×3 conv and a max pool of one x: one forward launch reading x once; backward one
  // dx launch and one launch for the weight gradient, none for dw when it is not wanted.
  const Tensor x = filled({2, 3, 8, 8}), w = filled({3, 1, 3, 3});
  DepthwiseConv2dParams conv;
  conv.pad_h = conv.pad_w = 1;
  conv.relu_input = true;
  Pool2dParams pool;
  pool.pad_h = pool.pad_w = 1;
  const std::vector<Stencil> stencils{Stencil::depthwise(conv), Stencil::pooling(pool)};
  const std::vector<Tensor> weights{w, Tensor()};
  std::vector<Tensor> ys{filled(x.shape()), filled(x.shape())};
  Tensor dx = filled(x.shape());
  std::vector<Tensor> dws{filled(w.shape()), Tensor()};
  const int64_t n = x.numel();
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    stencil_group_forward(x, weights, ys, stencils);
  }
  const OpTotals fwd = only(profile, "stencil_group_forward");
  EXPECT_EQ(fwd.cost.launches, 1);
  EXPECT_EQ(fwd.cost.bytes_read, 4 * (n + w.numel()));
  EXPECT_EQ(fwd.cost.bytes_written, 4 * 2 * n);
  EXPECT_EQ(fwd.cost.flops, 2 * 9 * n + 9 * n);
  profile.clear();
  {
    OpProfileScope scope(profile);
    stencil_group_backward(x, weights, ys, dx, dws, stencils, GradMode::Accumulate);
  }
  const OpTotals bwd = only(profile, "stencil_group_backward");
  EXPECT_EQ(bwd.cost.launches, 2);
  // dx: both dys, w, x (mask and arg-max), dx itself; dw: x, the conv's dy, dw.
  EXPECT_EQ(bwd.cost.bytes_read, 4 * (2 * n + w.numel() + n + n) + 4 * (n + n + w.numel()));
  EXPECT_EQ(bwd.cost.bytes_written, 4 * (n + w.numel()));
  EXPECT_EQ(bwd.cost.side_launches, 1);  // dw, beside dx (runtime/side_stream.h)
  EXPECT_EQ(bwd.cost.side_bytes, 4 * (n + n + 2 * w.numel()));
  profile.clear();
  std::vector<Tensor> no_dws(2);
  {
    OpProfileScope scope(profile);
    stencil_group_backward(x, weights, ys, dx, no_dws, stencils);
  }
  EXPECT_EQ(only(profile, "stencil_group_backward").cost.launches, 1);
}

TEST(OpProfile, PointwiseGroupIsOneGemmLaunchForwardAndTwoBackward) {
  // Three 1×1 convs [2, 3, 4, 5] → 6 channels: one batched GEMM forward; backward one dx GEMM for
  // every member and one launch summing every member's dw over the batch into it.
  const int64_t k_count = 3, N = 2, C = 3, P = 4 * 5, Co = 6;
  const std::vector<Tensor> xs(k_count, filled({N, C, 4, 5})), ws(k_count, filled({Co, C, 1, 1}));
  std::vector<Tensor> ys, dys, dxs, dws;
  for (int64_t k = 0; k < k_count; ++k) {
    ys.push_back(filled({N, Co, 4, 5}));
    dys.push_back(filled({N, Co, 4, 5}));
    dxs.push_back(filled({N, C, 4, 5}));
    dws.push_back(filled({Co, C, 1, 1}));
  }
  const int64_t x_bytes = 4 * N * C * P, y_bytes = 4 * N * Co * P, w_bytes = 4 * Co * C;
  const int64_t flops = 2 * Co * C * N * P;
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    pointwise_group_forward(xs, ws, ys, false);
  }
  const OpTotals fwd = only(profile, "pointwise_group_forward");
  EXPECT_EQ(fwd.cost.launches, 1);
  EXPECT_EQ(fwd.cost.bytes_read, k_count * (x_bytes + w_bytes));
  EXPECT_EQ(fwd.cost.bytes_written, k_count * y_bytes);
  EXPECT_EQ(fwd.cost.flops, k_count * flops);
  profile.clear();
  // Member 0 adds its dx, 1 writes it, 2 got no gradient (its written dx zero-filled, no dw).
  dys[2] = Tensor();
  const std::vector<GradMode> modes{GradMode::Accumulate, GradMode::Write, GradMode::Write};
  {
    OpProfileScope scope(profile);
    pointwise_group_backward(xs, ws, dys, dxs, dws, modes, false);
  }
  const OpTotals bwd = only(profile, "pointwise_group_backward");
  EXPECT_EQ(bwd.cost.launches, 2);
  EXPECT_EQ(bwd.cost.bytes_read, (2 * (y_bytes + w_bytes) + x_bytes) +  // dx: dys, ws, dx_0
                                     2 * (y_bytes + x_bytes + w_bytes));  // dw 0, 1: dys, xs, dws
  EXPECT_EQ(bwd.cost.bytes_written, 3 * x_bytes + 2 * w_bytes);
  EXPECT_EQ(bwd.cost.flops, 2 * flops + 2 * flops);
  EXPECT_EQ(bwd.cost.side_launches, 1);  // dw, beside dx (runtime/side_stream.h)
  EXPECT_EQ(bwd.cost.side_bytes, 2 * (y_bytes + x_bytes + w_bytes) + 2 * w_bytes);
  profile.clear();
  std::vector<Tensor> no_dws(k_count);
  {
    OpProfileScope scope(profile);
    pointwise_group_backward(xs, ws, dys, dxs, no_dws, modes, false);
  }
  EXPECT_EQ(only(profile, "pointwise_group_backward").cost.launches, 1);
  EXPECT_EQ(only(profile, "pointwise_group_backward").cost.side_launches, 0);
}

// The weight gradient's sum over samples × pixels is split into up to 64 blocks per dw tile, 8 to
// a cluster; past one cluster a tile's clusters write partial tiles and one more launch adds them.
TEST(OpProfile, PointwiseGroupWeightGradientAddsPartialTilesPastOneCluster) {
  const PointwiseWeightGradSplit darts = pointwise_weight_grad_split(64, 32 * 32);
  EXPECT_EQ(darts.units, 64 * 2);  // (sample, 512-pixel slice) units
  EXPECT_EQ(darts.ranks, 8);
  EXPECT_EQ(darts.clusters, 8);
  const PointwiseWeightGradSplit two = pointwise_weight_grad_split(2, 20);
  EXPECT_EQ(two.ranks, 2);
  EXPECT_EQ(two.clusters, 1);
  const PointwiseWeightGradSplit nine = pointwise_weight_grad_split(9, 25);
  EXPECT_EQ(nine.ranks, 8);
  EXPECT_EQ(nine.clusters, 2);  // 16 blocks for 9 units: some sum none
  // Nine samples: two clusters per tile, so dw's partial tiles [2 members, 2, 6, 3] and their sum.
  const int64_t N = 9, C = 3, Co = 6;
  const std::vector<Tensor> xs(2, filled({N, C, 5, 5})), ws(2, filled({Co, C, 1, 1}));
  const std::vector<Tensor> dys(2, filled({N, Co, 5, 5}));
  std::vector<Tensor> no_dxs(2), dws{filled({Co, C, 1, 1}), filled({Co, C, 1, 1})};
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    pointwise_group_backward(xs, ws, dys, no_dxs, dws, {GradMode::Write, GradMode::Write}, false);
  }
  const OpTotals bwd = only(profile, "pointwise_group_backward");
  const int64_t w_bytes = 4 * Co * C, partials = 2 * 2 * w_bytes;
  EXPECT_EQ(bwd.cost.launches, 2);
  EXPECT_EQ(bwd.cost.bytes_read, 2 * 4 * (N * Co * 25 + N * C * 25) + partials + 2 * w_bytes);
  EXPECT_EQ(bwd.cost.bytes_written, partials + 2 * w_bytes);
  EXPECT_EQ(bwd.cost.side_launches, 2);  // both on the side stream: no dx
  EXPECT_EQ(bwd.cost.side_bytes, bwd.cost.bytes());
}

TEST(OpProfile, FactorizedReduceIsOneLaunchForwardAndOneEachForDxAndDw) {
  // x [2, 3, 4, 6] → 2·5 channels at 2×3: one forward launch (where relu, two im2col convs, a
  // slice and a concat made 9); backward one for dx, one for dw1 and dw2 together.
  const int64_t N = 2, C = 3, half = 5, pixels = 2 * 3;
  const Tensor x = filled({N, C, 4, 6}), w1 = filled({half, C, 1, 1}), w2 = filled({half, C, 1, 1});
  Tensor y = filled({N, 2 * half, 2, 3}), dx = filled(x.shape());
  Tensor dw1 = filled(w1.shape()), dw2 = filled(w2.shape());
  const int64_t x_bytes = 4 * x.numel(), w_bytes = 4 * half * C, y_bytes = 4 * y.numel();
  const int64_t flops = 2 * C * (N * 2 * half * pixels);
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    factorized_reduce_forward(x, w1, w2, y);
  }
  const OpTotals fwd = only(profile, "factorized_reduce_forward");
  EXPECT_EQ(fwd.cost.launches, 1);
  EXPECT_EQ(fwd.cost.bytes_read, x_bytes + 2 * w_bytes);
  EXPECT_EQ(fwd.cost.bytes_written, y_bytes);
  EXPECT_EQ(fwd.cost.flops, flops);
  profile.clear();
  {
    OpProfileScope scope(profile);
    factorized_reduce_backward(x, w1, w2, y, dx, dw1, dw2, GradMode::Accumulate);
  }
  const OpTotals bwd = only(profile, "factorized_reduce_backward");
  EXPECT_EQ(bwd.cost.launches, 2);
  EXPECT_EQ(bwd.cost.bytes_read, (x_bytes + 2 * w_bytes + y_bytes + x_bytes) +  // dx: x, ws, dy, dx
                                     (x_bytes + 2 * w_bytes + y_bytes));        // dw: x, dws, dy
  EXPECT_EQ(bwd.cost.bytes_written, x_bytes + 2 * w_bytes);
  EXPECT_EQ(bwd.cost.flops, 2 * flops);
  EXPECT_EQ(bwd.cost.side_launches, 1);
  EXPECT_EQ(bwd.cost.side_bytes, x_bytes + 2 * w_bytes + y_bytes + 2 * w_bytes);
  profile.clear();
  Tensor none;
  {
    OpProfileScope scope(profile);
    factorized_reduce_backward(x, w1, w2, y, dx, none, none, GradMode::Write);  // dx alone
    factorized_reduce_backward(x, w1, w2, y, none, none, dw2, GradMode::Write);  // dw2 alone
  }
  const OpTotals parts = only(profile, "factorized_reduce_backward");
  EXPECT_EQ(parts.cost.launches, 2);
  EXPECT_EQ(parts.cost.bytes_read, (x_bytes + 2 * w_bytes + y_bytes) +  // dx written: not read
                                       (x_bytes + w_bytes + y_bytes / 2));  // dw2: dy's second half
  EXPECT_EQ(parts.cost.flops, flops + flops / 2);
}

TEST(OpProfile, DepthwiseGroupIsOneLaunchForwardAndOneEachForDxAndDw) {
  // Three members, each on its own x (3×3 with the folded ReLU, 5×5 with it, 3×3 without): one
  // forward launch; backward one launch for every dx, one for every dw.
  const Tensor x = filled({2, 3, 8, 8}), w3 = filled({3, 1, 3, 3}), w5 = filled({3, 1, 5, 5});
  DepthwiseConv2dParams sep3, sep5, linear3;
  sep3.pad_h = sep3.pad_w = linear3.pad_h = linear3.pad_w = 1;
  sep5.pad_h = sep5.pad_w = 2;
  sep3.relu_input = sep5.relu_input = true;
  const std::vector<DepthwiseConv2dParams> params{sep3, sep5, linear3};
  const std::vector<Tensor> xs{x, filled(x.shape()), filled(x.shape())}, ws{w3, w5, w3};
  std::vector<Tensor> ys{filled(x.shape()), filled(x.shape()), filled(x.shape())};
  std::vector<Tensor> dxs = ys, dws{filled(w3.shape()), filled(w5.shape()), filled(w3.shape())};
  const int64_t n = x.numel(), w_bytes = 4 * (2 * w3.numel() + w5.numel());
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    depthwise_group_forward(xs, ws, ys, params);
  }
  const OpTotals fwd = only(profile, "depthwise_group_forward");
  EXPECT_EQ(fwd.cost.launches, 1);
  EXPECT_EQ(fwd.cost.bytes_read, 4 * 3 * n + w_bytes);
  EXPECT_EQ(fwd.cost.bytes_written, 4 * 3 * n);
  EXPECT_EQ(fwd.cost.flops, 2 * (9 + 25 + 9) * n);
  profile.clear();
  const std::vector<GradMode> modes{GradMode::Accumulate, GradMode::Write, GradMode::Write};
  {
    OpProfileScope scope(profile);
    depthwise_group_backward(xs, ws, ys, dxs, dws, params, modes);
  }
  const OpTotals bwd = only(profile, "depthwise_group_backward");
  EXPECT_EQ(bwd.cost.launches, 2);
  // dx: every dy and filter, the two ReLU members' x, member 0's dx; dw: every x, dy and dw.
  EXPECT_EQ(bwd.cost.bytes_read, (4 * (3 * n + 2 * n + n) + w_bytes) + (4 * 6 * n + w_bytes));
  EXPECT_EQ(bwd.cost.bytes_written, 4 * 3 * n + w_bytes);
  EXPECT_EQ(bwd.cost.flops, 2 * 2 * (9 + 25 + 9) * n);
  EXPECT_EQ(bwd.cost.side_launches, 1);
  EXPECT_EQ(bwd.cost.side_bytes, 4 * 6 * n + 2 * w_bytes);
  profile.clear();
  std::vector<Tensor> no_dws(3);
  {
    OpProfileScope scope(profile);
    depthwise_group_backward(xs, ws, ys, dxs, no_dws, params, modes);
  }
  EXPECT_EQ(only(profile, "depthwise_group_backward").cost.launches, 1);
  profile.clear();
  {  // no dy anywhere: an accumulated dx stays, so only the written ones are zero-filled
    OpProfileScope scope(profile);
    depthwise_group_backward(xs, ws, std::vector<Tensor>(3), dxs, dws, params, modes);
  }
  const OpTotals zeros = only(profile, "depthwise_group_backward");
  EXPECT_EQ(zeros.cost.launches, 1);
  EXPECT_EQ(zeros.cost.bytes_read, 0);
  EXPECT_EQ(zeros.cost.bytes_written, 4 * 2 * n);
  // Members behind folded BNs read their statistics too and normalise every tap they load (two
  // more FLOPs a tap); still one launch forward.
  profile.clear();
  const Tensor stat = filled({3});
  const std::vector<InputNorm> norms{{stat, stat}, {}, {stat, stat}};
  {
    OpProfileScope scope(profile);
    depthwise_group_forward(xs, ws, ys, params, norms);
  }
  const OpTotals normalized = only(profile, "depthwise_group_forward");
  EXPECT_EQ(normalized.cost.launches, 1);
  EXPECT_EQ(normalized.cost.bytes_read, 4 * 3 * n + w_bytes + 2 * 2 * 4 * 3);
  EXPECT_EQ(normalized.cost.flops, (4 * 9 + 2 * 25 + 4 * 9) * n);
}

// A search cell's second input runs its pipeline on the side stream (OnSideStream): its kernels
// count as side work on any build while side streams are on, as a GPU runs them.
TEST(OpProfile, KernelsInsideAnOnSideStreamRegionAreSideWork) {
  const Tensor a = filled({4, 4}), b = filled({4, 4});
  Tensor c = filled({4, 4});
  for (bool on : {true, false}) {
    SideStreamsSwitch streams(on);
    OpProfile profile;
    {
      OpProfileScope scope(profile);
      gemm(a, b, c);  // before the region
      OnSideStream beside(Device::cpu());
      gemm(a, b, c);
    }
    const OpTotals t = only(profile, "gemm");
    EXPECT_EQ(t.cost.launches, 2);
    EXPECT_EQ(t.cost.side_launches, on ? 1 : 0);
    EXPECT_EQ(t.cost.side_bytes, on ? t.cost.bytes() / 2 : 0);
  }
  EXPECT_FALSE(in_side_region());
}

TEST(OpProfile, CountsOnlyInsideItsScopeAndThread) {
  const Tensor a = filled({2, 2});
  Tensor c = filled({2, 2});
  gemm(a, a, c);  // no profile active: nothing to count, nothing to crash
  OpProfile outer, inner;
  {
    OpProfileScope scope(outer);
    gemm(a, a, c);
    {
      OpProfileScope nested(inner);
      gemm(a, a, c);
      std::thread other([&] { gemm(a, a, c); });  // another thread has no active profile
      other.join();
    }
    gemm(a, a, c);
  }
  gemm(a, a, c);
  EXPECT_EQ(outer.total().calls, 2);
  EXPECT_EQ(inner.total().calls, 1);
  EXPECT_EQ(OpProfile::active(), nullptr);
}

TEST(OpProfile, DeviceCopiesCountAsLaunchesAndFillsDoNot) {
  const Tensor src = filled({10});
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    Tensor copy = src.clone();
    copy.fill_(2.0);  // a host fill here; a transfer on a GPU, never a launch
  }
  const OpTotals t = only(profile, "tensor_copy");
  EXPECT_EQ(t.cost.launches, 1);
  EXPECT_EQ(t.cost.bytes(), 2 * 40);
  EXPECT_EQ(profile.transfers(), 0);  // a CPU build has no host↔device copies
}

// A timed profile gives each entry its twin's own time: a twin timed inside another's counts
// apart, and the outer one keeps only the rest. Sleeps give the lower bounds; the wall clock
// around it all bounds the sum (an inner time counted twice would pass it).
TEST(OpProfile, ATimedProfileGivesEachEntryItsOwnTwinTime) {
  using std::chrono::milliseconds;
  const Tensor a = filled({64, 64});
  Tensor c = filled({64, 64});
  OpProfile untimed;
  {
    OpProfileScope scope(untimed);
    gemm(a, a, c);
  }
  EXPECT_EQ(only(untimed, "gemm").seconds, 0.0);

  OpProfile profile(/*timed=*/true);
  const auto start = std::chrono::steady_clock::now();
  {
    OpProfileScope scope(profile);
    count_op("outer", [] { return OpCost{}; });
    const TwinTimer outer;
    std::this_thread::sleep_for(milliseconds(20));
    gemm(a, a, c);  // an entry inside the outer twin: timed as gemm
    {
      const TwinTimer uncounted;  // no entry counted itself since the last twin began
      std::this_thread::sleep_for(milliseconds(30));
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto ops = profile.by_op();
  ASSERT_EQ(ops.size(), 3u);
  const double outer = ops.at("outer").seconds, inner = ops.at("(uncounted)").seconds;
  EXPECT_GE(outer, 0.020);
  EXPECT_GE(inner, 0.030);
  EXPECT_GT(ops.at("gemm").seconds, 0.0);
  EXPECT_EQ(ops.at("gemm").calls, 1);
  EXPECT_LE(profile.total().seconds, wall);
  EXPECT_NEAR(profile.total().seconds, outer + inner + ops.at("gemm").seconds, 1e-12);
}

}  // namespace
}  // namespace autonet
