// The CPU twins that run a batch's samples on the OpenMP team (kernels/cpu/sample_loop.h):
// conv2d and factorized_reduce give the same bits with one thread as with several, their weight
// gradients included (summed per sample, in sample order); convolutions too large for per-sample
// parts sum the old way.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/sample_loop.h"
#include "kernels/factorized_reduce.h"
#include "tests/kernels/group_checks.h"

namespace autonet::test {
namespace {

// Runs `f` with `threads` OpenMP threads, then restores the team size.
template <class F>
auto with_threads(int threads, F&& f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto result = f();
  omp_set_num_threads(before);
  return result;
}

struct ConvResult {
  Tensor y, dx, dw;
};

// A convolution's forward, and its backward adding dx onto a random gradient and dw onto a random
// weight gradient (as the search's gradient targets do).
ConvResult convolve(const Tensor& x, const Tensor& w, const Tensor& dy, const Conv2dParams& p) {
  ConvResult r{Tensor::empty(dy.shape(), DType::f32), random_tensor(x.shape(), DType::f32, 5),
               random_tensor(w.shape(), DType::f32, 6)};
  conv2d_forward(x, w, Tensor(), r.y, p);
  Tensor no_bias;
  conv2d_backward(x, w, dy, r.dx, r.dw, no_bias, p, GradMode::Accumulate);
  return r;
}

TEST(SampleLoop, ConvolutionsGiveTheSameBitsOnAnyThreadCount) {
  struct Geometry {
    int64_t C, K, R, stride, pad;
  };
  // A search cell's 1×1 (one GEMM straight on the sample) and the stem's 3×3 (im2col, col2im).
  for (const Geometry& c : {Geometry{12, 16, 1, 1, 0}, Geometry{3, 24, 3, 1, 1}}) {
    const Tensor x = random_tensor({7, c.C, 10, 10}, DType::f32, 1);
    const Tensor w = random_tensor({c.K, c.C, c.R, c.R}, DType::f32, 2);
    const Conv2dParams p{c.stride, c.stride, c.pad, c.pad};
    const Tensor dy = random_tensor({7, c.K, 10, 10}, DType::f32, 3);
    const ConvResult one = with_threads(1, [&] { return convolve(x, w, dy, p); });
    for (int threads : {2, 3}) {
      const ConvResult many = with_threads(threads, [&] { return convolve(x, w, dy, p); });
      const std::string what = std::to_string(c.R) + "×" + std::to_string(c.R) + " conv, " +
                               std::to_string(threads) + " threads: ";
      expect_same_bits(many.y, one.y, what + "y");
      expect_same_bits(many.dx, one.dx, what + "dx");
      expect_same_bits(many.dw, one.dw, what + "dw");
    }
  }
}

TEST(SampleLoop, FactorizedReduceGivesTheSameBitsOnAnyThreadCount) {
  const Tensor x = random_tensor({5, 8, 12, 12}, DType::f32, 1);
  const Tensor w1 = random_tensor({6, 8, 1, 1}, DType::f32, 2);
  const Tensor w2 = random_tensor({6, 8, 1, 1}, DType::f32, 3);
  const Tensor dy = random_tensor({5, 12, 6, 6}, DType::f32, 4);
  auto run = [&] {
    std::vector<Tensor> out{
        Tensor::empty(dy.shape(), DType::f32), random_tensor(x.shape(), DType::f32, 5),
        random_tensor(w1.shape(), DType::f32, 6), random_tensor(w2.shape(), DType::f32, 7)};
    factorized_reduce_forward(x, w1, w2, out[0]);
    factorized_reduce_backward(x, w1, w2, dy, out[1], out[2], out[3], GradMode::Accumulate);
    return out;
  };
  const std::vector<Tensor> one = with_threads(1, run);
  for (int threads : {2, 3}) {
    const std::vector<Tensor> many = with_threads(threads, run);
    for (size_t i = 0; i < one.size(); ++i)
      expect_same_bits(many[i], one[i],
                       "output " + std::to_string(i) + ", " + std::to_string(threads) + " threads");
  }
}

// Weight gradients whose per-sample parts would pass kMaxPartBytes are summed the old way: the
// samples one after another, each GEMM adding onto dw; the sum is still each sample's dw.
TEST(SampleLoop, LargeWeightGradientsAddOntoTheGradientItself) {
  const int64_t N = 32, C = 256, K = 256;  // dw: 256·256·9 floats, 2.4 MB a sample, 75 MB in all
  EXPECT_FALSE(cpu::SampleWeightGrad(Tensor::empty({K, C, 3, 3}, DType::f32), N).parallel());
  EXPECT_TRUE(cpu::SampleWeightGrad(Tensor::empty({16, 16, 1, 1}, DType::f32), N).parallel() ||
              !cpu::samples_in_parallel(N));
  const Tensor x = random_tensor({N, C, 4, 4}, DType::f32, 1);
  const Tensor w = random_tensor({K, C, 3, 3}, DType::f32, 2);
  const Tensor dy = random_tensor({N, K, 4, 4}, DType::f32, 3);
  const Conv2dParams p{1, 1, 1, 1};
  Tensor dw = Tensor::zeros(w.shape(), DType::f32), no_dx, no_bias;
  conv2d_backward(x, w, dy, no_dx, dw, no_bias, p);
  std::vector<double> want(w.numel(), 0.0);  // Σ_n of each sample's own dw
  for (int64_t n = 0; n < N; ++n) {
    Tensor dw_n = Tensor::zeros(w.shape(), DType::f32);
    conv2d_backward(x.slice(0, n, n + 1), w, dy.slice(0, n, n + 1), no_dx, dw_n, no_bias, p);
    for (int64_t i = 0; i < dw_n.numel(); ++i) want[i] += dw_n.data<float>()[i];
  }
  double worst = 0;
  for (int64_t i = 0; i < dw.numel(); ++i)
    worst = std::max(worst, std::abs(dw.data<float>()[i] - want[i]) / (1.0 + std::abs(want[i])));
  EXPECT_LT(worst, 1e-5);
}

}  // namespace
}  // namespace autonet::test
