// Channel moments in parts (kernels/channel_moments.h): what the 1×1 group forms on the way out,
// and the batch norms that take their statistics from them instead of reading their input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/batch_norm_group.h"
#include "kernels/bn_mixed_sum.h"
#include "kernels/pointwise_group.h"
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
  std::vector<Tensor> rm(2), rv(2), none(2), means{Tensor::empty({4}), Tensor::empty({4})};
  std::vector<Tensor> invstds{Tensor::empty({4}), Tensor::empty({4})};
  EXPECT_NE(error_message_of([&] {
              batch_norm_group_forward(ys, rm, rv, none, means, invstds, {},
                                       {Tensor(), Tensor::empty({2, 3, 3}, DType::f64)});
            }).find("member 1 moments"),
            std::string::npos);
}

// On a GPU: the 1×1 group's epilogue forms the CPU twin's parts (counts exactly, means and M2 to
// double rounding of another summation order), and the batch-norm group's statistics from them
// match the CPU's.
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
    const std::vector<double> a = cpu.moments[0].to_vector<double>();
    const std::vector<double> b = cuda.moments[0].to(Device::cpu()).to_vector<double>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], i % 3 == 0 ? 0.0 : 1e-6 * (1e-3 + std::abs(a[i]))) << i;
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

}  // namespace autonet::test
