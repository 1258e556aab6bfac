// Channel moments in parts (kernels/channel_moments.h): what the 1×1 group and the stencil group
// form on the way out, and the batch norms that take their statistics from them instead of
// reading their input; and backward's twin, the gradient sums the depthwise group forms for the
// batch norm folded into it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/batch_norm_group.h"
#include "kernels/batch_norm_math.h"
#include "kernels/bn_mixed_sum.h"
#include "kernels/depthwise_group.h"
#include "kernels/pointwise_group.h"
#include "kernels/stencil_group.h"
#include "runtime/op_profile.h"
#include "tests/kernels/group_checks.h"
#include "tests/kernels/op_case.h"  // error_message_of

namespace autonet::test {
namespace {

// A 1×1 group's outputs with their moment parts, on `device`.
struct Produced {
  std::vector<Tensor> ys, moments;
};
Produced produce(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws, Device device) {
  Produced p;
  std::vector<Tensor> on_xs, on_ws;
  for (size_t k = 0; k < xs.size(); ++k) {
    on_xs.push_back(xs[k].to(device));
    on_ws.push_back(ws[k].to(device));
    const Shape out{xs[k].size(0), ws[k].size(0), xs[k].size(2), xs[k].size(3)};
    p.ys.push_back(Tensor::empty(out, xs[k].dtype(), device));
    p.moments.push_back(Tensor::empty({moment_parts(out), out[1], 3}, DType::f64, device));
  }
  pointwise_group_forward(on_xs, on_ws, p.ys, /*relu_input=*/false, p.moments);
  return p;
}

// A search edge's stencils on x (max and average pools, a depthwise conv with its folded ReLU) as
// one group, stride 1 or 2, with the moment parts of the members `wanted`, on `device`.
Produced produce_stencils(const Tensor& x, int64_t stride, const std::vector<bool>& wanted,
                          Device device) {
  Pool2dParams pool{PoolMode::max, 3, 3, stride, stride, 1, 1, /*count_include_pad=*/false};
  const DepthwiseConv2dParams conv{stride, 1, 1, 1, /*relu_input=*/true};
  std::vector<Stencil> stencils{Stencil::pooling(pool), Stencil::depthwise(conv)};
  pool.mode = PoolMode::avg;
  stencils.insert(stencils.begin() + 1, Stencil::pooling(pool));
  const Tensor w = random_tensor({x.size(1), 1, 3, 3}, DType::f32, 11).to(device);
  const std::vector<Tensor> weights{Tensor(), Tensor(), w};
  const Shape out = stencil_group_out_shape(x.shape(), {{}, {}, w.shape()}, stencils);
  Produced p;
  for (size_t k = 0; k < stencils.size(); ++k) {
    p.ys.push_back(Tensor::empty(out, x.dtype(), device));
    p.moments.push_back(k < wanted.size() && wanted[k]
                            ? Tensor::empty({moment_parts(out), out[1], 3}, DType::f64, device)
                            : Tensor());
  }
  stencil_group_forward(x.to(device), weights, p.ys, stencils, p.moments);
  return p;
}

// The sep convs' middle BNs folded into their second depthwise convs, backward: two members on
// x_k [3, 4, 10, 10] (runs of 64 and 36), a 3×3 and a 5×5 with their folded ReLU, their BNs'
// statistics from a training pass, dy random. backward() runs the depthwise group (the gradient
// g_k at x̂_k, with the gradient-sum parts of the members `wanted`) and then the BN group (with
// those parts), on `device`; bn_profile counts the BN group's backward.
struct FoldedBackward {
  std::vector<Tensor> xs, ws, dys, means, invstds;
  std::vector<DepthwiseConv2dParams> params;
  BatchNormParams train;
  explicit FoldedBackward(Device device) {
    DepthwiseConv2dParams sep3{1, 1, 1, 1, /*relu_input=*/true}, sep5{1, 2, 2, 1, true};
    params = {sep3, sep5};
    std::vector<Tensor> rm(2), rv(2), none(2);
    for (int k = 0; k < 2; ++k) {
      xs.push_back(random_tensor({3, 4, 10, 10}, DType::f32, 20 + k).to(device));
      ws.push_back(random_tensor({4, 1, 3 + 2 * k, 3 + 2 * k}, DType::f32, 22 + k).to(device));
      dys.push_back(random_tensor({3, 4, 10, 10}, DType::f32, 24 + k).to(device));
      means.push_back(Tensor::empty({4}, DType::f32, device));
      invstds.push_back(Tensor::empty({4}, DType::f32, device));
    }
    batch_norm_group_forward(xs, rm, rv, none, means, invstds, train);
  }
  struct Result {
    std::vector<Tensor> gs, dxs, sums;
  };
  Result backward(const std::vector<bool>& wanted, OpProfile* bn_profile = nullptr) const {
    Result r;
    std::vector<Tensor> dws(2);
    std::vector<InputNorm> norms;
    for (size_t k = 0; k < 2; ++k) {
      r.gs.push_back(Tensor::empty(xs[k].shape(), xs[k].dtype(), xs[k].device()));
      r.dxs.push_back(Tensor::empty(xs[k].shape(), xs[k].dtype(), xs[k].device()));
      r.sums.push_back(k < wanted.size() && wanted[k]
                           ? Tensor::empty({moment_parts(xs[k].shape()), 4, 2}, DType::f64,
                                           xs[k].device())
                           : Tensor());
      norms.push_back({means[k], invstds[k]});
    }
    depthwise_group_backward(xs, ws, dys, r.gs, dws, params, {GradMode::Write, GradMode::Write},
                             norms, wanted.empty() ? std::vector<Tensor>{} : r.sums);
    OpProfile unused;
    OpProfileScope scope(bn_profile ? *bn_profile : unused);
    batch_norm_group_backward(xs, means, invstds, r.gs, r.dxs, train,
                              wanted.empty() ? std::vector<Tensor>{} : r.sums);
    return r;
  }
};

// Channel c of y [N, C, S] in double: its count, mean and Σ(x − mean)², two passes.
MomentsPart direct_moments(const Tensor& y, int64_t c) {
  const Tensor v = y.to(DType::f64);
  const std::vector<double> x = v.to_vector<double>();
  const int64_t N = y.size(0), C = y.size(1), S = y.size(2) * y.size(3);
  double sum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) sum += x[(n * C + c) * S + s];
  const double count = double(N * S), mean = sum / count;
  double m2 = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) m2 += std::pow(x[(n * C + c) * S + s] - mean, 2);
  return {count, mean, m2};
}
}  // namespace

// Parts are runs of kMomentRun pixels of one sample (a 10×10 plane: 64 + 36), and merged they give
// each channel's mean and M2; inputs far from zero (mean 1000, spread 1) lose nothing to
// cancellation, since each part's M2 is formed around its own mean.
TEST(ChannelMoments, PartsMergeToTheChannelsMeanAndVariance) {
  for (double offset : {0.0, 1000.0}) {
    SCOPED_TRACE("offset " + std::to_string(offset));
    // Channel 1 of x near 1, so y's channel 1 = 0.5·x_0 + offset·x_1 + 0.25·x_3 lies near offset.
    std::vector<float> xv = random_tensor({3, 4, 10, 10}, DType::f32, 1).to_vector<float>();
    const std::vector<float> near_one =
        random_tensor({300}, DType::f32, 2).to_vector<float>();
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t s = 0; s < 100; ++s)
        xv[(n * 4 + 1) * 100 + s] = 1.0f + 0.001f * near_one[n * 100 + s];
    const Tensor x = Tensor::from_vector<float>(xv, {3, 4, 10, 10});
    const Tensor w = Tensor::from_vector<float>(
        {1.0f, 0.0f, 0.0f, 0.0f, 0.5f, float(offset), 0.0f, 0.25f}, {2, 4, 1, 1});
    const Produced p = produce({x}, {w}, Device::cpu());
    const Tensor& parts = p.moments[0];
    ASSERT_EQ(parts.shape(), Shape({6, 2, 3}));  // 3 samples × 2 runs
    const std::vector<double> pv = parts.to_vector<double>();
    for (int64_t part = 0; part < 6; ++part)
      for (int64_t c = 0; c < 2; ++c)
        EXPECT_EQ(pv[(part * 2 + c) * 3], part % 2 == 0 ? 64.0 : 36.0) << part << " " << c;
    for (int64_t c = 0; c < 2; ++c) {
      const MomentsPart merged = merged_moments(pv.data(), 6, 2, c);
      const MomentsPart want = direct_moments(p.ys[0], c);
      EXPECT_EQ(merged.count, want.count);
      EXPECT_NEAR(merged.mean, want.mean, 1e-12 * (1 + std::abs(want.mean)));
      EXPECT_NEAR(merged.m2, want.m2, 1e-9 * want.m2) << "channel " << c;
      EXPECT_GT(want.m2, 0.0);
    }
  }
}

// A batch norm given its input's parts normalises with the statistics a pass over the input
// gives (to double rounding: equal float32 values here), updates the running ones alike, and
// reads the parts instead of the input: the batch-norm group and the fused mixed sum.
TEST(ChannelMoments, BatchNormsTakeTheirStatisticsFromTheParts) {
  const Tensor x0 = random_tensor({4, 6, 9, 9}, DType::f32, 3);
  const Tensor x1 = random_tensor({4, 6, 9, 9}, DType::f32, 4);
  const Tensor w0 = random_tensor({5, 6, 1, 1}, DType::f32, 5);
  const Tensor w1 = random_tensor({5, 6, 1, 1}, DType::f32, 6);
  const Produced p = produce({x0, x1}, {w0, w1}, Device::cpu());
  BatchNormParams train;
  train.momentum = 0.3;
  auto group_stats = [&](const std::vector<Tensor>& moments, OpProfile& profile) {
    std::vector<Tensor> rm, rv, ys(2), means, invstds;
    for (int k = 0; k < 2; ++k) {
      rm.push_back(Tensor::full({5}, 0.5));
      rv.push_back(Tensor::full({5}, 2.0));
      means.push_back(Tensor::empty({5}));
      invstds.push_back(Tensor::empty({5}));
    }
    OpProfileScope scope(profile);
    batch_norm_group_forward(p.ys, rm, rv, ys, means, invstds, train, moments);
    return std::vector<Tensor>{means[0], means[1], invstds[0], invstds[1], rm[0], rv[1]};
  };
  OpProfile from_x, from_parts;
  const std::vector<Tensor> read = group_stats({}, from_x);
  const std::vector<Tensor> merged = group_stats(p.moments, from_parts);
  for (size_t i = 0; i < read.size(); ++i) {
    const std::vector<float> a = read[i].to_vector<float>(), b = merged[i].to_vector<float>();
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-6 * std::abs(a[j])) << i;
  }
  const int64_t parts_bytes = p.moments[0].nbytes() + p.moments[1].nbytes();
  EXPECT_EQ(from_x.total().cost.bytes_read - from_parts.total().cost.bytes_read,
            int64_t(p.ys[0].nbytes() + p.ys[1].nbytes()) - parts_bytes);

  // The fused mixed sum: candidate 0 with parts, 1 without, 2 not normalised.
  BnMixedSumParams bp;
  bp.bn = train;
  bp.normalize = {true, true, false};
  const Tensor weights = Tensor::from_vector<float>({0.2f, 0.5f, 0.3f}, {3});
  const std::vector<Tensor> cands{p.ys[0], p.ys[1], p.ys[0]};
  auto mixed = [&](const std::vector<Tensor>& moments) {
    std::vector<Tensor> rm(3), rv(3);
    Tensor out = Tensor::empty(p.ys[0].shape()), sm = Tensor::empty({3, 5}),
           si = Tensor::empty({3, 5});
    bn_mixed_sum_forward(weights, cands, rm, rv, out, sm, si, bp, moments);
    return std::vector<Tensor>{out, sm, si};
  };
  const std::vector<Tensor> plain = mixed({});
  const std::vector<Tensor> with_parts = mixed({p.moments[0], Tensor(), Tensor()});
  for (size_t i = 0; i < plain.size(); ++i) {
    const std::vector<float> a = plain[i].to_vector<float>(), b = with_parts[i].to_vector<float>();
    for (size_t j = 0; j < a.size(); ++j)
      EXPECT_NEAR(a[j], b[j], 1e-6 * (1 + std::abs(a[j]))) << "tensor " << i << " at " << j;
  }
}

// The stencil group forms the parts of the outputs asked for (the pools, here also the depthwise
// conv) as it writes them: runs of 64 and 36 pixels of a 10×10 plane, one run of a 5×5 plane at
// stride 2; merged they give each channel's moments, the outputs are those of a group asked for
// none, bit for bit, and the parts are all the group writes more.
TEST(ChannelMoments, TheStencilGroupFormsItsOutputsParts) {
  const Tensor x = random_tensor({3, 4, 10, 10}, DType::f32, 12);
  for (int64_t stride : {1, 2}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    OpProfile with_parts, without;
    Produced p, plain;
    {
      OpProfileScope scope(with_parts);
      p = produce_stencils(x, stride, {true, true, false}, Device::cpu());
    }
    {
      OpProfileScope scope(without);
      plain = produce_stencils(x, stride, {}, Device::cpu());
    }
    EXPECT_FALSE(p.moments[2].defined());
    const int64_t runs = stride == 1 ? 2 : 1, channels = 4;
    for (size_t k = 0; k < 3; ++k) expect_same_bits(p.ys[k], plain.ys[k], "output");
    for (size_t k = 0; k < 2; ++k) {
      SCOPED_TRACE("stencil " + std::to_string(k));
      ASSERT_EQ(p.moments[k].shape(), Shape({3 * runs, channels, 3}));
      const std::vector<double> pv = p.moments[k].to_vector<double>();
      for (int64_t part = 0; part < 3 * runs; ++part)
        EXPECT_EQ(pv[part * channels * 3], stride == 2 ? 25.0 : part % 2 == 0 ? 64.0 : 36.0);
      for (int64_t c = 0; c < channels; ++c) {
        const MomentsPart merged = merged_moments(pv.data(), 3 * runs, channels, c);
        const MomentsPart want = direct_moments(p.ys[k], c);
        EXPECT_EQ(merged.count, want.count);
        EXPECT_NEAR(merged.mean, want.mean, 1e-12 * (1 + std::abs(want.mean)));
        EXPECT_NEAR(merged.m2, want.m2, 1e-9 * want.m2) << "channel " << c;
      }
    }
    EXPECT_EQ(with_parts.total().cost.bytes_written - without.total().cost.bytes_written,
              int64_t(p.moments[0].nbytes() + p.moments[1].nbytes()));
    EXPECT_EQ(with_parts.total().cost.launches, without.total().cost.launches);
  }
}

// The depthwise group sums its folded BNs' Σg and Σg·x̂ per run as it writes g (a member asked
// for them and one not): the BN group's backward given them reads neither g nor x for those
// sums, and its dx is the one a pass over g and x gives, bit for bit on the CPU (both sum the
// same runs in the same order); the parts merged are the channel's sums.
TEST(ChannelMoments, TheDepthwiseGroupFormsItsFoldedNormsGradientSums) {
  const FoldedBackward f(Device::cpu());
  OpProfile with_parts, without;
  const FoldedBackward::Result r = f.backward({true, false}, &with_parts);
  const FoldedBackward::Result plain = f.backward({}, &without);
  for (size_t k = 0; k < 2; ++k) {
    expect_same_bits(r.gs[k], plain.gs[k], "g");
    expect_same_bits(r.dxs[k], plain.dxs[k], "BN dx");
  }
  ASSERT_EQ(r.sums[0].shape(), Shape({6, 4, 2}));
  const std::vector<double> parts = r.sums[0].to_vector<double>();
  const std::vector<float> g = r.gs[0].to_vector<float>(), x = f.xs[0].to_vector<float>();
  const std::vector<float> mean = f.means[0].to_vector<float>();
  const std::vector<float> invstd = f.invstds[0].to_vector<float>();
  for (int64_t c = 0; c < 4; ++c) {
    double sum_g = 0, sum_g_xhat = 0, want_g = 0, want_g_xhat = 0;
    for (int64_t p = 0; p < 6; ++p) {
      sum_g += parts[(p * 4 + c) * 2];
      sum_g_xhat += parts[(p * 4 + c) * 2 + 1];
    }
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t s = 0; s < 100; ++s) {
        const int64_t i = (n * 4 + c) * 100 + s;
        want_g += g[i];
        want_g_xhat += double(g[i]) * double((x[i] - mean[c]) * invstd[c]);
      }
    EXPECT_NEAR(sum_g, want_g, 1e-12 * (1 + std::abs(want_g))) << "channel " << c;
    EXPECT_NEAR(sum_g_xhat, want_g_xhat, 1e-12 * (1 + std::abs(want_g_xhat))) << "channel " << c;
    EXPECT_NE(sum_g_xhat, 0.0);
  }
  EXPECT_EQ(without.total().cost.bytes_read - with_parts.total().cost.bytes_read,
            int64_t(f.xs[0].nbytes() + r.gs[0].nbytes() - r.sums[0].nbytes()));
  EXPECT_EQ(with_parts.total().cost.launches, without.total().cost.launches);
}

// Moment tensors of the wrong shape or dtype are errors naming the member or candidate.
TEST(ChannelMoments, WrongPartsAreErrorsNamingTheMember) {
  const Tensor x = random_tensor({2, 3, 5, 5}, DType::f32, 7);
  const Tensor w = random_tensor({4, 3, 1, 1}, DType::f32, 8);
  std::vector<Tensor> ys{Tensor::empty({2, 4, 5, 5}), Tensor::empty({2, 4, 5, 5})};
  const Tensor good = Tensor::empty({2, 4, 3}, DType::f64);
  EXPECT_EQ(error_message_of([&] {
              pointwise_group_forward({x, x}, {w, w}, ys, false, {good, Tensor()});
            }),
            "no error");
  EXPECT_NE(error_message_of([&] {
              pointwise_group_forward({x, x}, {w, w}, ys, false, {good, Tensor::empty({2, 4, 3})});
            }).find("member 1 moments"),
            std::string::npos);
  EXPECT_NE(error_message_of([&] {
              pointwise_group_forward({x, x}, {w, w}, ys, false,
                                      {Tensor::empty({4, 4, 3}, DType::f64), Tensor()});
            }).find("member 0 moments"),
            std::string::npos);
  std::vector<Tensor> pools{Tensor::empty({2, 3, 5, 5}), Tensor::empty({2, 3, 5, 5})};
  const Stencil max_pool = Stencil::pooling({PoolMode::max, 3, 3, 1, 1, 1, 1, false});
  const Tensor pool_parts = Tensor::empty({2, 3, 3}, DType::f64);
  EXPECT_NE(error_message_of([&] {
              stencil_group_forward(x, {Tensor(), Tensor()}, pools, {max_pool, max_pool},
                                    {pool_parts, Tensor(), Tensor()});
            }).find("3 tensors of moments for 2 stencils"),
            std::string::npos);
  EXPECT_NE(error_message_of([&] {
              stencil_group_forward(x, {Tensor(), Tensor()}, pools, {max_pool, max_pool},
                                    {pool_parts, Tensor::empty({2, 3, 3})});
            }).find("stencil 1 moments"),
            std::string::npos);
  // Gradient sums: the depthwise group's need a member with a folded norm and a written dx.
  const FoldedBackward f(Device::cpu());
  std::vector<Tensor> gs{Tensor::empty(f.xs[0].shape()), Tensor::empty(f.xs[0].shape())}, dws(2);
  const Tensor sums = Tensor::empty({6, 4, 2}, DType::f64);
  const std::vector<InputNorm> one_norm{{f.means[0], f.invstds[0]}, {}};
  EXPECT_NE(error_message_of([&] {
              depthwise_group_backward(f.xs, f.ws, f.dys, gs, dws, f.params,
                                       {GradMode::Write, GradMode::Write}, one_norm,
                                       {Tensor(), sums});
            }).find("member 1 gradient sums need a folded batch norm"),
            std::string::npos);
  EXPECT_NE(error_message_of([&] {
              depthwise_group_backward(f.xs, f.ws, f.dys, gs, dws, f.params,
                                       {GradMode::Write, GradMode::Write}, one_norm,
                                       {Tensor::empty({6, 4, 3}, DType::f64), Tensor()});
            }).find("member 0 gradient sums"),
            std::string::npos);
  std::vector<Tensor> bn_dxs(2);
  EXPECT_NE(error_message_of([&] {
              batch_norm_group_backward(f.xs, f.means, f.invstds, gs, bn_dxs, f.train, {sums});
            }).find("1 tensors of gradient sums for 2 members"),
            std::string::npos);
  std::vector<Tensor> rm(2), rv(2), none(2), means{Tensor::empty({4}), Tensor::empty({4})};
  std::vector<Tensor> invstds{Tensor::empty({4}), Tensor::empty({4})};
  EXPECT_NE(error_message_of([&] {
              batch_norm_group_forward(ys, rm, rv, none, means, invstds, {},
                                       {Tensor(), Tensor::empty({2, 3, 3}, DType::f64)});
            }).find("member 1 moments"),
            std::string::npos);
}

// On a GPU: the 1×1 group's epilogue forms the parts of what it writes (counts exactly, means
// and M2 to double rounding of another summation order: the CPU twin's parts of the GPU's y; y
// itself differs from the CPU's by float32 roundings, which move a run's mean by up to a few ulps
// of its values, far more than the mean's own rounding), and the batch-norm group's statistics
// from them match the CPU's.
TEST(ChannelMoments, CudaPartsAndStatisticsMatchTheCpus) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  const Device gpu = Device::cuda(0);
  // 16×16 planes (4 runs of 64), 70 output channels (two row tiles), and a 5×5 plane (one tile).
  for (const Shape& shape : {Shape{5, 24, 16, 16}, Shape{3, 8, 5, 5}}) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor x = random_tensor(shape, DType::f32, 9);
    const Tensor w = random_tensor({shape[1] == 24 ? 70 : 16, shape[1], 1, 1}, DType::f32, 10);
    const Produced cpu = produce({x}, {w}, Device::cpu()), cuda = produce({x}, {w}, gpu);
    const Tensor of_gpu_y = Tensor::empty(cpu.moments[0].shape(), DType::f64);
    form_moment_parts_of(cuda.ys[0].to(Device::cpu()), of_gpu_y, "test");
    const std::vector<double> a = of_gpu_y.to_vector<double>();
    const std::vector<double> b = cuda.moments[0].to(Device::cpu()).to_vector<double>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], i % 3 == 0 ? 0.0 : 1e-9 * (1e-3 + std::abs(a[i]))) << i;
    std::vector<Tensor> stats;
    for (const Produced* p : {&cpu, &cuda}) {
      const Device d = p->ys[0].device();
      std::vector<Tensor> rm{Tensor::full({w.size(0)}, 0.5).to(d)};
      std::vector<Tensor> rv{Tensor::full({w.size(0)}, 2.0).to(d)};
      std::vector<Tensor> ys(1), means{Tensor::empty({w.size(0)}, DType::f32, d)};
      std::vector<Tensor> invstds{Tensor::empty({w.size(0)}, DType::f32, d)};
      batch_norm_group_forward(p->ys, rm, rv, ys, means, invstds, {}, p->moments);
      for (const Tensor& t : {means[0], invstds[0], rm[0], rv[0]})
        stats.push_back(t.to(Device::cpu()));
    }
    for (size_t i = 0; i < 4; ++i) {
      const std::vector<float> c = stats[i].to_vector<float>();
      const std::vector<float> g = stats[4 + i].to_vector<float>();
      for (size_t j = 0; j < c.size(); ++j) EXPECT_NEAR(c[j], g[j], 1e-5 * (1 + std::abs(c[j])));
    }
  }
}

// On a GPU: the stencil group's warps form the CPU twin's parts (counts exactly, means and M2 to
// double rounding of another summation order) for planes of 4 runs, of one short run (7×7) and at
// stride 2, and its outputs are the CPU's.
TEST(ChannelMoments, CudaStencilPartsMatchTheCpus) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  for (const auto& [shape, stride] : std::vector<std::pair<Shape, int64_t>>{
           {{5, 24, 16, 16}, 1}, {{3, 8, 7, 7}, 1}, {{4, 16, 16, 16}, 2}}) {
    SCOPED_TRACE(shape_str(shape) + " stride " + std::to_string(stride));
    const Tensor x = random_tensor(shape, DType::f32, 13);
    const Produced cpu = produce_stencils(x, stride, {true, true, true}, Device::cpu());
    const Produced cuda = produce_stencils(x, stride, {true, true, true}, Device::cuda(0));
    for (size_t k = 0; k < 3; ++k) {
      SCOPED_TRACE("stencil " + std::to_string(k));
      const std::vector<float> cy = cpu.ys[k].to_vector<float>();
      const std::vector<float> gy = cuda.ys[k].to(Device::cpu()).to_vector<float>();
      for (size_t i = 0; i < cy.size(); ++i)
        ASSERT_NEAR(cy[i], gy[i], 1e-5f * (1 + std::abs(cy[i]))) << i;
      const std::vector<double> a = cpu.moments[k].to_vector<double>();
      const std::vector<double> b = cuda.moments[k].to(Device::cpu()).to_vector<double>();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i)
        EXPECT_NEAR(a[i], b[i], i % 3 == 0 ? 0.0 : 1e-5 * (1e-3 + std::abs(a[i]))) << i;
    }
  }
}

// On a GPU: the depthwise group's dx warps form the gradient sums of what they write (the CPU
// twin's parts of the GPU's g, to double rounding of another summation order, and x̂ to a float32
// rounding: g itself differs from the CPU's by float32 roundings, which move a run's Σg by up to
// a few ulps of Σ|g|), and the BN group's dx from them matches the CPU's.
TEST(ChannelMoments, CudaGradientSumsMatchTheCpus) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  const FoldedBackward cpu_case(Device::cpu()), cuda_case(Device::cuda(0));
  const FoldedBackward::Result cpu = cpu_case.backward({true, true});
  const FoldedBackward::Result cuda = cuda_case.backward({true, true});
  for (size_t k = 0; k < 2; ++k) {
    SCOPED_TRACE("member " + std::to_string(k));
    const Tensor x = cuda_case.xs[k].to(Device::cpu()), g = cuda.gs[k].to(Device::cpu());
    const Tensor mean = cuda_case.means[k].to(Device::cpu());
    const Tensor invstd = cuda_case.invstds[k].to(Device::cpu());
    const int64_t N = x.size(0), C = x.size(1), S = x.size(2) * x.size(3);
    const Tensor of_gpu_g = Tensor::empty(cpu.sums[k].shape(), DType::f64);
    form_grad_sum_parts(x.data<float>(), g.data<float>(), N, C, S, mean.data<float>(),
                        invstd.data<float>(), of_gpu_g.data<double>());
    const std::vector<double> a = of_gpu_g.to_vector<double>();
    const std::vector<double> b = cuda.sums[k].to(Device::cpu()).to_vector<double>();
    ASSERT_EQ(a.size(), b.size());
    // Each part's Σ|g| and Σ|g|·(|x| + |mean|)·invstd: the scales of its two sums' roundings.
    const std::vector<float> xs = x.to_vector<float>(), gs = g.to_vector<float>();
    const std::vector<float> means = mean.to_vector<float>();
    const std::vector<float> invstds = invstd.to_vector<float>();
    const int64_t runs = (S + kMomentRun - 1) / kMomentRun;
    for (int64_t plane = 0; plane < N * C; ++plane) {
      const int64_t n = plane / C, c = plane % C;
      for (int64_t r = 0; r < runs; ++r) {
        double g_scale = 0, g_xhat_scale = 0;
        const int64_t begin = plane * S + r * kMomentRun;
        const int64_t end = plane * S + std::min(S, (r + 1) * kMomentRun);
        for (int64_t at = begin; at < end; ++at) {
          g_scale += std::abs(gs[at]);
          g_xhat_scale += std::abs(gs[at]) * (std::abs(xs[at]) + std::abs(means[c])) * invstds[c];
        }
        const size_t i = static_cast<size_t>(((n * runs + r) * C + c) * 2);
        EXPECT_NEAR(a[i], b[i], 1e-12 * (1 + g_scale)) << i;
        EXPECT_NEAR(a[i + 1], b[i + 1], 1e-12 + 2.4e-7 * g_xhat_scale) << i + 1;
      }
    }
    for (const auto& [on_cpu, on_gpu] :
         {std::pair{cpu.gs[k], cuda.gs[k]}, std::pair{cpu.dxs[k], cuda.dxs[k]}}) {
      const std::vector<float> cv = on_cpu.to_vector<float>();
      const std::vector<float> gv = on_gpu.to(Device::cpu()).to_vector<float>();
      for (size_t i = 0; i < cv.size(); ++i)
        ASSERT_NEAR(cv[i], gv[i], 1e-4f * (1 + std::abs(cv[i]))) << i;
    }
  }
}

}  // namespace autonet::test
