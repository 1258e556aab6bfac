// Rows and hand-computed checks for kernels/depthwise_conv2d.h.
#include <gtest/gtest.h>

#include "kernels/depthwise_conv2d.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// DARTS' depthwise halves: sep_conv_3x3/5x5 (dilation 1) and dil_conv_3x3/5x5 (dilation 2).
struct Variant {
  const char* name;
  int64_t k, pad, dilation;
};
constexpr Variant kSep3{"sep3x3", 3, 1, 1}, kSep5{"sep5x5", 5, 2, 1};
constexpr Variant kDil3{"dil3x3", 3, 2, 2}, kDil5{"dil5x5", 5, 4, 2};

DepthwiseConv2dParams dw_params(int64_t stride, int64_t pad_h, int64_t pad_w, int64_t dilation,
                                bool relu) {
  DepthwiseConv2dParams p;
  p.stride = stride;
  p.pad_h = pad_h;
  p.pad_w = pad_w;
  p.dilation = dilation;
  p.relu_input = relu;
  return p;
}

// dx_mode Accumulate: the form autograd uses when x already has a gradient (a state feeding
// several ops).
OpCase dw_case(const std::string& variant, const Shape& x_shape, int64_t R, int64_t S,
               const DepthwiseConv2dParams& p, int fd_samples = 24,
               GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = "depthwise_conv2d/" + variant + "_s" + std::to_string(p.stride) +
           (p.relu_input ? "_relu" : "") + (dx_mode == GradMode::Accumulate ? "_acc" : "") + "/" +
           shape_str(x_shape);
  const Shape w_shape{x_shape[1], 1, R, S};
  InputSpec x{"x", x_shape};
  x.grad_mode = dx_mode;
  // Folded ReLU: keep |x| ≥ 0.05 so no finite-difference probe crosses the kink.
  if (p.relu_input) x.fill = Fill::nonzero, x.low = 0.05, x.high = 1.0;
  InputSpec w{"w", w_shape};
  w.grad_mode = GradMode::Accumulate;
  c.inputs = {x, w};
  c.outputs = {{"y", depthwise_conv2d_out_shape(x_shape, w_shape, p)}};
  c.forward = [p](const Tensors& in, Tensors& out) {
    depthwise_conv2d_forward(in[0], in[1], out[0], p);
  };
  c.backward = [p, dx_mode](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    depthwise_conv2d_backward(in[0], in[1], dout[0], din[0], din[1], p, dx_mode);
  };
  const bool big = shape_numel(x_shape) > 100000;
  c.set_tolerance(big ? 1e-4 : 2e-5, big ? 1e-4 : 1e-5,
                  big ? "dw sums N·Ho·Wo (up to 65536) float32 products vs the CPU's double sum"
                  : "float32 sums of <= 25 products (dw: N·Ho·Wo) vs the CPU's double sum");
  c.exact_on_integers = true;  // products of ints <= 3 summed 65536 times stay below 2^24
  c.fd_samples = fd_samples;
  return c;
}

OpCase darts_case(const Variant& v, const Shape& x_shape, int64_t stride, bool relu,
                  int fd_samples = 24, GradMode dx_mode = GradMode::Write) {
  return dw_case(v.name, x_shape, v.k, v.k, dw_params(stride, v.pad, v.pad, v.dilation, relu),
                 fd_samples, dx_mode);
}
}  // namespace

std::vector<OpCase> depthwise_conv2d_cases() {
  std::vector<OpCase> rows;
  // Every DARTS variant at stride 1 and 2, with and without the folded ReLU, on an odd image.
  for (const Variant& v : {kSep3, kSep5, kDil3, kDil5})
    for (int64_t stride : {1, 2})
      for (bool relu : {false, true}) rows.push_back(darts_case(v, {1, 3, 7, 5}, stride, relu));
  // The accumulate form of dx: every DARTS variant at both strides (the generic stride-3 path
  // below too), and a DARTS shape.
  for (const Variant& v : {kSep3, kSep5, kDil3, kDil5})
    for (int64_t stride : {1, 2})
      rows.push_back(darts_case(v, {2, 5, 11, 13}, stride, true, 24, GradMode::Accumulate));
  rows.push_back(dw_case("k7x7", {1, 2, 13, 11}, 7, 7, dw_params(3, 3, 3, 1, true), 24,
                         GradMode::Accumulate));
  rows.push_back(darts_case(kSep3, darts_image_shapes()[1], 1, true, 4, GradMode::Accumulate));
  // Size 1 and prime sizes.
  rows.push_back(darts_case(kSep3, {1, 1, 1, 1}, 1, true));
  rows.push_back(darts_case(kDil5, {1, 1, 1, 1}, 2, false));
  rows.push_back(darts_case(kSep5, {2, 5, 11, 13}, 1, true));
  rows.push_back(darts_case(kDil3, {3, 7, 13, 11}, 2, true));
  // R ≠ S with unequal padding, 1×1, and a generic 7×7 stride-3 kernel (the runtime-size paths).
  rows.push_back(dw_case("k3x5", {2, 3, 9, 7}, 3, 5, dw_params(2, 1, 2, 1, true)));
  rows.push_back(dw_case("k1x1", {2, 4, 5, 5}, 1, 1, dw_params(1, 0, 0, 1, false)));
  rows.push_back(dw_case("k7x7", {1, 2, 13, 11}, 7, 7, dw_params(3, 3, 3, 1, true)));
  rows.push_back(dw_case("k3x3_d3", {2, 3, 17, 19}, 3, 3, dw_params(1, 0, 5, 3, false)));
  // The DARTS shapes: normal-cell edges (stride 1) and reduction-cell edges (stride 2).
  const Shape s32 = darts_image_shapes()[0], s16 = darts_image_shapes()[1], s8 = darts_image_shapes()[2];
  // (Few probes at 64×16×32×32: each probe costs two full forwards of a million outputs.)
  for (const Variant& v : {kSep3, kSep5, kDil3, kDil5}) rows.push_back(darts_case(v, s32, 1, true, 4));
  rows.push_back(darts_case(kSep3, s32, 1, false, 4));
  rows.push_back(darts_case(kSep3, s32, 2, true, 4));
  rows.push_back(darts_case(kDil5, s32, 2, true, 4));
  rows.push_back(darts_case(kSep5, s16, 1, true, 6));
  rows.push_back(darts_case(kDil3, s16, 2, true, 6));
  rows.push_back(darts_case(kSep3, s8, 1, true, 6));
  rows.push_back(darts_case(kDil5, s8, 1, true, 6));
  // A plane whose staged weight-gradient room and block_sums' warp sums together would pass the
  // 48 KiB a block (5×5 at 74×74: 48,772 + 800 bytes in float): dw reads x through the cache.
  rows.push_back(darts_case(kSep5, {2, 1, 74, 74}, 1, true, 2));
  return rows;
}

namespace {
Tensor iota_image(int64_t h, int64_t w) {  // x[h][w] = 1 + h·W + w
  std::vector<double> v(h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 1.0 + static_cast<double>(i);
  return Tensor::from_vector(v, {1, 1, h, w});
}
}  // namespace

TEST(DepthwiseConv2d, HandComputedForward) {
  Tensor x = iota_image(3, 3);  // [[1 2 3] [4 5 6] [7 8 9]]
  Tensor ones = Tensor::full({1, 1, 3, 3}, 1.0, DType::f64);
  Tensor y = Tensor::empty({1, 1, 3, 3}, DType::f64);
  depthwise_conv2d_forward(x, ones, y, dw_params(1, 1, 1, 1, false));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{12, 21, 16, 27, 45, 33, 24, 39, 28}));

  Tensor y2 = Tensor::empty({1, 1, 2, 2}, DType::f64);
  depthwise_conv2d_forward(x, ones, y2, dw_params(2, 1, 1, 1, false));
  EXPECT_EQ(y2.to_vector<double>(), (std::vector<double>{12, 16, 24, 28}));

  // Dilation 2, padding 2: output (0,0) sees x at rows/cols {0, 2}; the centre sees only x[1][1].
  depthwise_conv2d_forward(x, ones, y, dw_params(1, 2, 2, 2, false));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{20, 10, 20, 10, 5, 10, 20, 10, 20}));

  // Two channels use their own filters: a centre tap (identity) and a doubled centre tap.
  std::vector<double> two(18, 0.0);
  for (int i = 0; i < 9; ++i) two[i] = two[9 + i] = 1.0 + i;
  Tensor x2 = Tensor::from_vector(two, {1, 2, 3, 3});
  std::vector<double> wv(18, 0.0);
  wv[4] = 1.0, wv[13] = 2.0;
  Tensor w2 = Tensor::from_vector(wv, {2, 1, 3, 3});
  Tensor y3 = Tensor::empty({1, 2, 3, 3}, DType::f64);
  depthwise_conv2d_forward(x2, w2, y3, dw_params(1, 1, 1, 1, false));
  const std::vector<double> got = y3.to_vector<double>();
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(got[i], 1.0 + i);
    EXPECT_EQ(got[9 + i], 2.0 * (1.0 + i));
  }
}

TEST(DepthwiseConv2d, HandComputedBackward) {
  Tensor x = iota_image(3, 3);
  Tensor ones = Tensor::full({1, 1, 3, 3}, 1.0, DType::f64);
  Tensor dy = Tensor::full({1, 1, 3, 3}, 1.0, DType::f64);
  Tensor dx = Tensor::full({1, 1, 3, 3}, 7.0, DType::f64);  // written, whatever it held
  Tensor dw = Tensor::full({1, 1, 3, 3}, 1.0, DType::f64);  // accumulates onto 1
  depthwise_conv2d_backward(x, ones, dy, dx, dw, dw_params(1, 1, 1, 1, false));
  // dx: how many 3×3 windows cover each pixel (corner 4, edge 6, centre 9).
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
  // dw[r][s] = 1 + Σ of x over the 2×2 (corner taps), 2×3 (edge taps), 3×3 (centre) it reads.
  EXPECT_EQ(dw.to_vector<double>(), (std::vector<double>{13, 22, 17, 28, 46, 34, 25, 40, 29}));

  // Folded ReLU: y = 2·relu(x); dx carries the mask, dw sums relu(x)·dy.
  Tensor xr = Tensor::from_vector<double>({-1, 2, 3, -4}, {1, 1, 2, 2});
  Tensor w = Tensor::full({1, 1, 1, 1}, 2.0, DType::f64);
  Tensor yr = Tensor::empty({1, 1, 2, 2}, DType::f64);
  depthwise_conv2d_forward(xr, w, yr, dw_params(1, 0, 0, 1, true));
  EXPECT_EQ(yr.to_vector<double>(), (std::vector<double>{0, 4, 6, 0}));
  Tensor dyr = Tensor::full({1, 1, 2, 2}, 1.0, DType::f64), dxr = Tensor::empty({1, 1, 2, 2}, DType::f64);
  Tensor dwr = Tensor::full({1, 1, 1, 1}, 1.0, DType::f64);
  depthwise_conv2d_backward(xr, w, dyr, dxr, dwr, dw_params(1, 0, 0, 1, true));
  EXPECT_EQ(dxr.to_vector<double>(), (std::vector<double>{0, 2, 2, 0}));
  EXPECT_EQ(dwr.item(), 6.0);  // 1 + relu(-1) + 2 + 3 + relu(-4)

  // Undefined gradients are skipped.
  Tensor none;
  EXPECT_NO_THROW(depthwise_conv2d_backward(xr, w, dyr, none, dwr, dw_params(1, 0, 0, 1, true)));
  EXPECT_EQ(dwr.item(), 11.0);
}

TEST(DepthwiseConv2d, OutputShape) {
  const Shape w3{16, 1, 3, 3}, w5{16, 1, 5, 5};
  EXPECT_EQ(depthwise_conv2d_out_shape({64, 16, 32, 32}, w3, dw_params(1, 1, 1, 1, true)),
            (Shape{64, 16, 32, 32}));
  EXPECT_EQ(depthwise_conv2d_out_shape({64, 16, 32, 32}, w5, dw_params(2, 4, 4, 2, true)),
            (Shape{64, 16, 16, 16}));
  EXPECT_EQ(depthwise_conv2d_out_shape({1, 16, 7, 5}, w3, dw_params(2, 2, 2, 2, false)),
            (Shape{1, 16, 4, 3}));
}

TEST(DepthwiseConv2d, RejectsBadArguments) {
  const DepthwiseConv2dParams p = dw_params(1, 1, 1, 1, false);
  Tensor x = Tensor::empty({2, 3, 5, 5}), w = Tensor::empty({3, 1, 3, 3}), y = Tensor::empty({2, 3, 5, 5});
  Tensor dx = Tensor::empty({2, 3, 5, 5}), dw = Tensor::empty({3, 1, 3, 3}), dy = Tensor::empty({2, 3, 5, 5});
  EXPECT_NO_THROW(depthwise_conv2d_forward(x, w, y, p));
  Tensor y_wrong = Tensor::empty({2, 3, 3, 3});
  EXPECT_THROW(depthwise_conv2d_forward(x, w, y_wrong, p), Error);               // y shape
  Tensor w_channels = Tensor::empty({4, 1, 3, 3});
  EXPECT_THROW(depthwise_conv2d_forward(x, w_channels, y, p), Error);            // w channels
  Tensor w_groups = Tensor::empty({3, 2, 3, 3});
  EXPECT_THROW(depthwise_conv2d_forward(x, w_groups, y, p), Error);              // w not [C,1,R,S]
  Tensor w3d = Tensor::empty({3, 3, 3});
  EXPECT_THROW(depthwise_conv2d_forward(x, w3d, y, p), Error);                   // w rank
  Tensor x3d = Tensor::empty({3, 5, 5});
  EXPECT_THROW(depthwise_conv2d_forward(x3d, w, y, p), Error);                   // x rank
  Tensor w64 = Tensor::empty({3, 1, 3, 3}, DType::f64);
  EXPECT_THROW(depthwise_conv2d_forward(x, w64, y, p), Error);                   // w dtype
  Tensor y64 = Tensor::empty({2, 3, 5, 5}, DType::f64);
  EXPECT_THROW(depthwise_conv2d_forward(x, w, y64, p), Error);                   // y dtype
  Tensor xi = Tensor::empty({2, 3, 5, 5}, DType::i32), wi = Tensor::empty({3, 1, 3, 3}, DType::i32);
  Tensor yi = Tensor::empty({2, 3, 5, 5}, DType::i32);
  EXPECT_THROW(depthwise_conv2d_forward(xi, wi, yi, p), Error);                  // integer dtype
  Tensor strided = Tensor::empty({2, 3, 5, 10}).slice(3, 0, 10, 2);
  EXPECT_THROW(depthwise_conv2d_forward(strided, w, y, p), Error);               // non-contiguous x
  EXPECT_THROW(depthwise_conv2d_forward(Tensor(), w, y, p), Error);              // undefined x
  DepthwiseConv2dParams bad = p;
  bad.stride = 0;
  EXPECT_THROW(depthwise_conv2d_forward(x, w, y, bad), Error);                   // stride
  bad = p, bad.dilation = 0;
  EXPECT_THROW(depthwise_conv2d_forward(x, w, y, bad), Error);                   // dilation
  bad = p, bad.pad_w = -1;
  EXPECT_THROW(depthwise_conv2d_forward(x, w, y, bad), Error);                   // padding
  Tensor w9 = Tensor::empty({3, 1, 9, 9});
  EXPECT_THROW(depthwise_conv2d_forward(x, w9, y, p), Error);                  // kernel > input

  EXPECT_NO_THROW(depthwise_conv2d_backward(x, w, dy, dx, dw, p));
  EXPECT_THROW(depthwise_conv2d_backward(x, w, y_wrong, dx, dw, p), Error);      // dy shape
  EXPECT_THROW(depthwise_conv2d_backward(x, w, dy, y_wrong, dw, p), Error);      // dx shape
  EXPECT_THROW(depthwise_conv2d_backward(x, w, dy, dx, w_channels, p), Error);   // dw shape
  Tensor dw64 = Tensor::empty({3, 1, 3, 3}, DType::f64);
  EXPECT_THROW(depthwise_conv2d_backward(x, w, dy, dx, dw64, p), Error);         // dw dtype
  Tensor strided_dx = Tensor::empty({2, 3, 5, 10}).slice(3, 0, 10, 2);
  EXPECT_THROW(depthwise_conv2d_backward(x, w, dy, strided_dx, dw, p), Error);   // non-contiguous dx
}

TEST(DepthwiseConv2d, RejectsCudaWeightsWithCpuInput) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  const DepthwiseConv2dParams p = dw_params(1, 1, 1, 1, false);
  Tensor x = Tensor::empty({2, 3, 5, 5}), y = Tensor::empty({2, 3, 5, 5});
  Tensor gpu_w = Tensor::empty({3, 1, 3, 3}, DType::f32, Device::cuda(0));
  EXPECT_THROW(depthwise_conv2d_forward(x, gpu_w, y, p), Error);
}

}  // namespace autonet::test
