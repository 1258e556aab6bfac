// Rows and hand-computed checks for kernels/pool2d.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/pool2d.h"
#include "kernels/pool2d_math.h"
#include "tests/kernels/group_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
Pool2dParams pool_params(PoolMode mode, int64_t k, int64_t stride, int64_t pad,
                         bool count_include_pad = false) {
  Pool2dParams p;
  p.mode = mode;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.count_include_pad = count_include_pad;
  return p;
}

std::string pool_name(const Pool2dParams& p) {
  std::string s = p.mode == PoolMode::max ? "max" : "avg";
  s += std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) + "_s" +
       std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + "_p" +
       std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w);
  if (p.mode == PoolMode::avg) s += p.count_include_pad ? "_incpad" : "_excpad";
  return s;
}

// dx_mode Accumulate: the form autograd uses when x already has a gradient (a state feeding
// several ops).
OpCase pool_case(const Pool2dParams& p, const Shape& shape, int fd_samples = 24,
                 GradMode dx_mode = GradMode::Write) {
  OpCase c;
  const bool accumulate = dx_mode == GradMode::Accumulate;
  c.name = "pool2d/" + pool_name(p) + (accumulate ? "_acc" : "") + "/" + shape_str(shape);
  InputSpec x{"x", shape};
  x.grad_mode = dx_mode;
  if (p.mode == PoolMode::max) {
    // Distinct values, spaced far wider than fd_eps = 1e-6, so no probe flips an arg-max.
    const double half_width = std::max(1.0, 1e-5 * static_cast<double>(shape_numel(shape)));
    x.fill = Fill::distinct, x.low = -half_width, x.high = half_width;
  }
  c.inputs = {x};
  c.outputs = {{"y", pool2d_out_shape(shape, p)}};
  c.forward = [p](const Tensors& in, Tensors& out) { pool2d_forward(in[0], out[0], p); };
  c.backward = [p, dx_mode](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    pool2d_backward(in[0], dout[0], din[0], p, dx_mode);
  };
  if (p.mode == PoolMode::max) {
    c.set_tolerance(0, 0, "max copies an element; backward adds the same dy in the same order on both");
    c.exact_on_integers = true;  // ties everywhere: both twins must pick the same first maximum
  } else {
    c.set_tolerance(5e-6, 1e-5, "float32 window sum of <= 25 terms vs the CPU's double sum");
  }
  c.fd_samples = fd_samples;
  return c;
}

OpCase global_avg_pool_case(const Shape& shape, int fd_samples = 24) {
  OpCase c;
  c.name = "pool2d/global_avg/" + shape_str(shape);
  c.inputs = {{"x", shape}};
  c.outputs = {{"y", {shape[0], shape[1]}}};
  c.forward = [](const Tensors& in, Tensors& out) { global_avg_pool_forward(in[0], out[0]); };
  c.backward = [](const Tensors&, const Tensors&, const Tensors& dout, Tensors& din) {
    global_avg_pool_backward(dout[0], din[0]);
  };
  c.set_tolerance(1e-6, 1e-5, "float32 warp-tree sum of H·W terms vs the CPU's double sum");
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> pool2d_cases() {
  std::vector<OpCase> rows;
  const Shape one{1, 1, 1, 1}, odd{1, 3, 7, 5}, prime{2, 5, 11, 13};
  for (PoolMode mode : {PoolMode::max, PoolMode::avg}) {
    // DARTS' max_pool_3x3 / avg_pool_3x3 (count_include_pad = false) at stride 1 and 2.
    for (int64_t stride : {1, 2}) {
      const Pool2dParams p = pool_params(mode, 3, stride, 1);
      for (const Shape& s : {one, odd, prime}) rows.push_back(pool_case(p, s));
      // Few probes on the DARTS shapes: each costs two full forwards.
      for (const Shape& s : darts_image_shapes()) rows.push_back(pool_case(p, s, 4));
    }
    // The accumulate form: odd and DARTS shapes at both strides.
    for (int64_t stride : {1, 2}) {
      const Pool2dParams p = pool_params(mode, 3, stride, 1);
      rows.push_back(pool_case(p, prime, 24, GradMode::Accumulate));
      rows.push_back(pool_case(p, darts_image_shapes()[1], 4, GradMode::Accumulate));
    }
    // Rectangular kernel and strides.
    Pool2dParams rect = pool_params(mode, 2, 2, 1);
    rect.kernel_w = 3, rect.stride_w = 1;
    rows.push_back(pool_case(rect, {1, 2, 5, 7}));
  }
  // count_include_pad = true: the auxiliary head's 5×5 stride 3 on 8×8 (→ 2×2), and padded windows.
  const Pool2dParams aux = pool_params(PoolMode::avg, 5, 3, 0, true);
  rows.push_back(pool_case(aux, {3, 7, 8, 8}));
  rows.push_back(pool_case(aux, darts_image_shapes()[2], 6));
  rows.push_back(pool_case(pool_params(PoolMode::avg, 3, 1, 1, true), odd));
  rows.push_back(pool_case(pool_params(PoolMode::avg, 3, 2, 1, true), prime));
  rows.push_back(pool_case(pool_params(PoolMode::max, 5, 3, 2), prime));
  // Global average pooling (the classifier's input: 64×256×8×8 in the search network).
  for (const Shape& s : {one, odd, prime}) rows.push_back(global_avg_pool_case(s));
  rows.push_back(global_avg_pool_case({64, 256, 8, 8}, 6));
  return rows;
}

// dx as the scatter in ascending output order that the CPU kernel's gathers and the CUDA twin sum
// in (pool2d_math.h's windows, divisors and arg-max rule), float32.
Tensor scatter_in_output_order(const Tensor& x, const Tensor& dy, const Pool2dParams& p) {
  const PoolGeometry g = pool_geometry(p, x.shape(), dy.shape());
  Tensor dx = Tensor::zeros(x.shape(), DType::f32);
  for (int64_t plane = 0; plane < x.size(0) * x.size(1); ++plane) {
    const float* xp = x.data<float>() + plane * g.H * g.W;
    const float* dyp = dy.data<float>() + plane * g.Ho * g.Wo;
    float* dxp = dx.data<float>() + plane * g.H * g.W;
    for (int o = 0; o < g.Ho; ++o)
      for (int q = 0; q < g.Wo; ++q) {
        const PoolWindow win = pool_window(g, o, q);
        const float grad = dyp[o * g.Wo + q];
        if (g.is_max) {
          dxp[pool_argmax(xp, g, win)] += grad;
          continue;
        }
        const float share = grad / static_cast<float>(pool_avg_divisor(g, o, q, win));
        for (int h = win.h0; h < win.h1; ++h)
          for (int w = win.w0; w < win.w1; ++w) dxp[h * g.W + w] += share;
      }
  }
  return dx;
}

// The DARTS pools' backward (3×3, pad 1: framed planes; at stride 1 each input gathers what its
// windows send it) holds the bits of the plain scatter, on random values with ties (max pools'
// first-maximum rule) and on planes from 1×1 up to the DARTS sizes.
TEST(Pool2d, DartsBackwardEqualsTheScatterInOutputOrderBitForBit) {
  for (PoolMode mode : {PoolMode::max, PoolMode::avg})
    for (int64_t stride : {1, 2})
      for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{2, 3, 7, 5}, Shape{1, 2, 5, 9},
                                 Shape{4, 8, 32, 32}, Shape{4, 8, 16, 16}, Shape{4, 8, 8, 8}}) {
        const Pool2dParams p = pool_params(mode, 3, stride, 1);
        SCOPED_TRACE(shape_str(shape) + (mode == PoolMode::max ? " max" : " avg") + " stride " +
                     std::to_string(stride));
        Tensor x = random_tensor(shape, DType::f32, 7);
        float* xv = x.data<float>();
        for (int64_t i = 0; i < x.numel(); ++i) xv[i] = std::round(xv[i] * 2);  // ties
        const Tensor dy = random_tensor(pool2d_out_shape(shape, p), DType::f32, 8);
        Tensor dx = Tensor::empty(shape, DType::f32);
        pool2d_backward(x, dy, dx, p);
        expect_same_bits(dx, scatter_in_output_order(x, dy, p), "pool2d_backward");
      }
}

// A max pool's value is its window's value at pool_argmax (the first maximum from the window's
// first image value, as backward's arg-max and the CUDA twin take it): a NaN first image value is
// the window's value, on the border windows too (over a frame of −∞ they once passed it over).
TEST(Pool2d, MaxPoolValueIsTheWindowsValueAtItsArgmaxEvenForNaN) {
  for (int64_t stride : {1, 2}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    Tensor x = Tensor::empty({1, 2, 6, 5}, DType::f32);
    fill_uniform(x, -1.0, 1.0, 4);
    float* px = x.data<float>();
    px[0] = std::numeric_limits<float>::quiet_NaN();  // plane 0's corner: border windows
    px[30 + 2 * 5 + 2] = std::numeric_limits<float>::quiet_NaN();  // plane 1, inside
    Pool2dParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = 1;
    const Shape out = pool2d_out_shape(x.shape(), p);
    Tensor y = Tensor::empty(out, DType::f32);
    pool2d_forward(x, y, p);
    const PoolGeometry g = pool_geometry(p, x.shape(), out);
    const float* py = y.data<float>();
    int nans = 0;
    for (int plane = 0; plane < 2; ++plane)
      for (int o = 0; o < g.Ho; ++o)
        for (int q = 0; q < g.Wo; ++q) {
          const float* xp = px + plane * 30;
          const float want = xp[pool_argmax(xp, g, pool_window(g, o, q))];
          const float got = py[(plane * g.Ho + o) * g.Wo + q];
          nans += std::isnan(got) ? 1 : 0;
          if (std::isnan(want))
            EXPECT_TRUE(std::isnan(got)) << plane << " " << o << " " << q;
          else
            EXPECT_EQ(got, want) << plane << " " << o << " " << q;
        }
    EXPECT_GT(nans, 0);
  }
}

TEST(Pool2d, HandComputedMax) {
  // x = [[1 5 2] [4 3 6] [7 0 8]]; 2×2 windows, stride 1.
  Tensor x = Tensor::from_vector<double>({1, 5, 2, 4, 3, 6, 7, 0, 8}, {1, 1, 3, 3});
  const Pool2dParams p = pool_params(PoolMode::max, 2, 1, 0);
  Tensor y = Tensor::empty({1, 1, 2, 2}, DType::f64);
  pool2d_forward(x, y, p);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{5, 6, 7, 8}));
  // dy = [10 20 30 40]: 5 wins windows 0; 6 wins 1; 7 wins 2; 8 wins 3.
  Tensor dy = Tensor::from_vector<double>({10, 20, 30, 40}, {1, 1, 2, 2});
  Tensor dx = Tensor::full({1, 1, 3, 3}, 99.0, DType::f64);
  pool2d_backward(x, dy, dx, p);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 10, 0, 0, 0, 20, 30, 0, 40}));

  // Ties: the first maximum in scan order takes the whole gradient.
  Tensor ties = Tensor::full({1, 1, 2, 2}, 1.0, DType::f64);
  Tensor y1 = Tensor::empty({1, 1, 1, 1}, DType::f64), dy1 = Tensor::full({1, 1, 1, 1}, 3.0, DType::f64);
  Tensor dx1 = Tensor::empty({1, 1, 2, 2}, DType::f64);
  pool2d_forward(ties, y1, p);
  pool2d_backward(ties, dy1, dx1, p);
  EXPECT_EQ(dx1.to_vector<double>(), (std::vector<double>{3, 0, 0, 0}));

  // Padding never wins, even over negative values.
  Tensor neg = Tensor::from_vector<double>({-3, -1, -2, -4}, {1, 1, 2, 2});
  Tensor y2 = Tensor::empty({1, 1, 2, 2}, DType::f64);
  pool2d_forward(neg, y2, pool_params(PoolMode::max, 3, 1, 1));
  EXPECT_EQ(y2.to_vector<double>(), (std::vector<double>{-1, -1, -1, -1}));
}

TEST(Pool2d, HandComputedAverage) {
  // x = [[1 2] [3 4]], 3×3 windows, padding 1: every window covers all four elements.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor y = Tensor::empty({1, 1, 2, 2}, DType::f64);
  Tensor dy = Tensor::full({1, 1, 2, 2}, 1.0, DType::f64), dx = Tensor::empty({1, 1, 2, 2}, DType::f64);
  pool2d_forward(x, y, pool_params(PoolMode::avg, 3, 1, 1, false));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>(4, 2.5)));  // 10 / 4
  pool2d_backward(x, dy, dx, pool_params(PoolMode::avg, 3, 1, 1, false));
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>(4, 1.0)));  // 4 windows × 1/4
  pool2d_forward(x, y, pool_params(PoolMode::avg, 3, 1, 1, true));
  for (double v : y.to_vector<double>()) EXPECT_DOUBLE_EQ(v, 10.0 / 9.0);
  pool2d_backward(x, dy, dx, pool_params(PoolMode::avg, 3, 1, 1, true));
  for (double v : dx.to_vector<double>()) EXPECT_DOUBLE_EQ(v, 4.0 / 9.0);

  // Auxiliary head: 5×5 stride 3 on 8×8 gives 2×2; window (0,0) averages rows/cols 0..4.
  std::vector<double> v(64);
  for (int i = 0; i < 64; ++i) v[i] = i;  // x[h][w] = 8h + w
  Tensor x8 = Tensor::from_vector<double>(v, {1, 1, 8, 8});
  Tensor y2 = Tensor::empty({1, 1, 2, 2}, DType::f64);
  pool2d_forward(x8, y2, pool_params(PoolMode::avg, 5, 3, 0, true));
  // mean of 8h + w over h, w in [0,5) is 8·2 + 2 = 18; window (0,1) starts at column 3 → 21.
  EXPECT_EQ(y2.to_vector<double>(), (std::vector<double>{18, 21, 42, 45}));
}

TEST(Pool2d, HandComputedGlobalAverage) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  Tensor y = Tensor::empty({1, 2}, DType::f64);
  global_avg_pool_forward(x, y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2.5, 25}));
  Tensor dy = Tensor::from_vector<double>({2, 4}, {1, 2}), dx = Tensor::empty({1, 2, 2, 2}, DType::f64);
  global_avg_pool_backward(dy, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1}));
}

TEST(Pool2d, OutputShapeIsFloor) {
  EXPECT_EQ(pool2d_out_shape({2, 3, 7, 5}, pool_params(PoolMode::max, 3, 2, 1)), (Shape{2, 3, 4, 3}));
  EXPECT_EQ(pool2d_out_shape({1, 1, 8, 8}, pool_params(PoolMode::avg, 5, 3, 0)), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(pool2d_out_shape({1, 1, 32, 32}, pool_params(PoolMode::avg, 3, 2, 1)), (Shape{1, 1, 16, 16}));
}

TEST(Pool2d, RejectsBadArguments) {
  const Pool2dParams p = pool_params(PoolMode::max, 3, 1, 1);
  Tensor x = Tensor::empty({1, 2, 5, 5}), y = Tensor::empty({1, 2, 5, 5});
  Tensor dx = Tensor::empty({1, 2, 5, 5}), dy = Tensor::empty({1, 2, 5, 5});
  EXPECT_NO_THROW(pool2d_forward(x, y, p));
  Tensor wrong = Tensor::empty({1, 2, 4, 5});
  EXPECT_THROW(pool2d_forward(x, wrong, p), Error);                              // y shape
  Tensor y64 = Tensor::empty({1, 2, 5, 5}, DType::f64);
  EXPECT_THROW(pool2d_forward(x, y64, p), Error);                                // y dtype
  Tensor xi = Tensor::empty({1, 2, 5, 5}, DType::i32), yi = Tensor::empty({1, 2, 5, 5}, DType::i32);
  EXPECT_THROW(pool2d_forward(xi, yi, p), Error);                                // integer x
  Tensor x3 = Tensor::empty({2, 5, 5}), y3 = Tensor::empty({2, 5, 5});
  EXPECT_THROW(pool2d_forward(x3, y3, p), Error);                                // not NCHW
  Tensor strided = Tensor::empty({1, 2, 5, 10}).slice(3, 0, 10, 2);
  EXPECT_THROW(pool2d_forward(strided, y, p), Error);                            // non-contiguous x
  EXPECT_THROW(pool2d_forward(Tensor(), y, p), Error);                           // undefined x
  Pool2dParams bad = p;
  bad.kernel_h = 0;
  EXPECT_THROW(pool2d_forward(x, y, bad), Error);                                // kernel
  bad = p, bad.stride_w = 0;
  EXPECT_THROW(pool2d_forward(x, y, bad), Error);                                // stride
  bad = p, bad.pad_h = -1;
  EXPECT_THROW(pool2d_forward(x, y, bad), Error);                                // negative pad
  bad = p, bad.pad_w = 2;
  EXPECT_THROW(pool2d_forward(x, y, bad), Error);                                // pad > k/2
  Tensor tiny = Tensor::empty({1, 1, 2, 2}), ytiny = Tensor::empty({1, 1, 1, 1});
  EXPECT_THROW(pool2d_forward(tiny, ytiny, pool_params(PoolMode::avg, 5, 1, 1)), Error);  // k > input
  EXPECT_NO_THROW(pool2d_backward(x, dy, dx, p));
  EXPECT_THROW(pool2d_backward(x, wrong, dx, p), Error);                         // dy shape
  EXPECT_THROW(pool2d_backward(x, dy, wrong, p), Error);                         // dx shape
  Tensor dx64 = Tensor::empty({1, 2, 5, 5}, DType::f64);
  EXPECT_THROW(pool2d_backward(x, dy, dx64, p), Error);                          // dx dtype

  Tensor g = Tensor::empty({1, 2});
  EXPECT_NO_THROW(global_avg_pool_forward(x, g));
  Tensor g3 = Tensor::empty({1, 3});
  EXPECT_THROW(global_avg_pool_forward(x, g3), Error);                           // y shape
  EXPECT_THROW(global_avg_pool_forward(x3, g), Error);                           // not NCHW
  Tensor g64 = Tensor::empty({1, 2}, DType::f64);
  EXPECT_THROW(global_avg_pool_forward(x, g64), Error);                          // y dtype
  EXPECT_THROW(global_avg_pool_backward(g3, dx), Error);                         // dy shape
  EXPECT_THROW(global_avg_pool_backward(g64, dx), Error);                        // dy dtype
  EXPECT_THROW(global_avg_pool_backward(g, strided), Error);                     // non-contiguous dx
}

TEST(Pool2d, RejectsCudaOutputForCpuInput) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  const Pool2dParams p = pool_params(PoolMode::max, 3, 1, 1);
  Tensor x = Tensor::empty({1, 2, 5, 5});
  Tensor gpu_y = Tensor::empty({1, 2, 5, 5}, DType::f32, Device::cuda(0));
  EXPECT_THROW(pool2d_forward(x, gpu_y, p), Error);
}

}  // namespace autonet::test
