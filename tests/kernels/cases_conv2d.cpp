// Rows and hand-computed checks for kernels/conv2d.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "kernels/conv2d.h"
#include "tests/kernels/accumulate_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
Conv2dParams params(int64_t stride, int64_t pad, int64_t dilation = 1) {
  return {stride, stride, pad, pad, dilation, dilation};
}

// y = conv(x, weight) + bias; x's gradient is written or added per dx_mode, weight's and bias's
// accumulate.
OpCase conv_case(const std::string& variant, const Shape& x, const Shape& w, const Conv2dParams& p,
                 bool with_bias, int fd_samples = 24, GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = "conv2d/" + variant + "/" + shape_str(x) + "/" + shape_str(w) + (with_bias ? "/bias" : "");
  if (dx_mode == GradMode::Accumulate) c.name += "/dx_added";
  c.inputs = {{"x", x}, {"weight", w}};
  c.inputs[0].grad_mode = dx_mode;
  c.inputs[1].grad_mode = GradMode::Accumulate;
  if (with_bias) c.inputs.push_back({"bias", {w[0]}, Fill::uniform, -1, 1, true, GradMode::Accumulate});
  c.outputs = {{"y", conv2d_out_shape(x, w, p)}};
  c.forward = [p, with_bias](const Tensors& in, Tensors& out) {
    conv2d_forward(in[0], in[1], with_bias ? in[2] : Tensor(), out[0], p);
  };
  c.backward = [p, with_bias, dx_mode](const Tensors& in, const Tensors&, const Tensors& dout,
                                       Tensors& din) {
    Tensor no_bias;
    conv2d_backward(in[0], in[1], dout[0], din[0], din[1], with_bias ? din[2] : no_bias, p,
                    dx_mode);
  };
  // Each element's own float32 sum (y over its C·R·S taps, dweight over N·Ho·Wo pixels, less
  // the padded ones), blocked differently by cuBLAS and OpenBLAS: spread 20 gives the longest
  // sums the 4e-7·n bound they had when one bound per row was sized by them.
  c.set_tolerance(1e-6, 1e-5, "per element: 20·u·sqrt(n·Σa²) of its own sum of products, blocked "
                  "differently by cuBLAS and OpenBLAS");
  c.sums_of_products = true;
  c.exact_on_integers = true;
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> conv2d_cases() {
  const Shape darts = darts_image_shapes()[0];  // [64, 16, 32, 32]
  std::vector<OpCase> rows;
  // The DARTS stem (3×3, pad 1, 3 → 3C channels): small, and at its real size (C = 16 → 48).
  rows.push_back(conv_case("stem3x3", {2, 3, 32, 32}, {16, 3, 3, 3}, params(1, 1), true));
  rows.push_back(conv_case("stem3x3", {64, 3, 32, 32}, {48, 3, 3, 3}, params(1, 1), false, 1));
  // Pointwise 1×1 stride 1 (the GEMM path without im2col), incl. size 1 and the DARTS size.
  rows.push_back(conv_case("1x1", {1, 1, 1, 1}, {1, 1, 1, 1}, params(1, 0), true));
  rows.push_back(conv_case("1x1", {3, 5, 7, 9}, {11, 5, 1, 1}, params(1, 0), true));
  rows.push_back(conv_case("1x1", darts, {16, 16, 1, 1}, params(1, 0), false, 4));
  rows.push_back(conv_case("1x1", darts_image_shapes()[2], {64, 64, 1, 1}, params(1, 0), true, 4));
  // FactorizedReduce's 1×1 stride 2, even and odd image sizes.
  rows.push_back(conv_case("1x1s2", {2, 16, 16, 16}, {8, 16, 1, 1}, params(2, 0), false));
  rows.push_back(conv_case("1x1s2", {3, 5, 7, 9}, {4, 5, 1, 1}, params(2, 0), true));
  // The auxiliary head's 2×2 (128 → 768 in the reference, fewer channels here for speed).
  rows.push_back(conv_case("aux2x2", {2, 32, 2, 2}, {48, 32, 2, 2}, params(1, 0), false));
  // 3×3 stride 2 with padding, and a dilated 3×3 (dil_conv's geometry: dilation 2, pad 2).
  rows.push_back(conv_case("3x3s2", {2, 4, 9, 9}, {6, 4, 3, 3}, params(2, 1), true));
  rows.push_back(conv_case("dil3x3", {2, 3, 11, 11}, {5, 3, 3, 3}, params(1, 2, 2), false));
  // Odd 5×7 images; a rectangular kernel with unequal strides, padding and dilations.
  rows.push_back(conv_case("3x3", {3, 2, 5, 7}, {4, 2, 3, 3}, params(1, 1), true));
  rows.push_back(conv_case("3x2mixed", {2, 3, 5, 7}, {5, 3, 3, 2}, {1, 2, 1, 3, 2, 3}, true));
  // Large enough that CUDA's im2col workspace (2^22 elements) splits the batch into chunks of
  // 20 samples, the last one partial: 800 rows × 256 pixels × 24 samples.
  rows.push_back(conv_case("5x5chunked", {24, 32, 16, 16}, {8, 32, 5, 5}, params(1, 2), true, 2));
  // dx added into a gradient already there (FactorizedReduce's input feeds two convs): the GEMM
  // path, the col2im path (stride 2), several taps per pixel, and several chunks.
  const GradMode add = GradMode::Accumulate;
  rows.push_back(conv_case("1x1", {3, 5, 7, 9}, {11, 5, 1, 1}, params(1, 0), true, 24, add));
  rows.push_back(conv_case("1x1s2", {2, 16, 16, 16}, {8, 16, 1, 1}, params(2, 0), false, 24, add));
  rows.push_back(conv_case("3x3s2", {2, 4, 9, 9}, {6, 4, 3, 3}, params(2, 1), true, 24, add));
  rows.push_back(
      conv_case("5x5chunked", {24, 32, 16, 16}, {8, 32, 5, 5}, params(1, 2), false, 2, add));
  return rows;
}

TEST(Conv2d, OutputShapes) {
  EXPECT_EQ(conv2d_out_shape({64, 3, 32, 32}, {48, 3, 3, 3}, params(1, 1)),
            (Shape{64, 48, 32, 32}));
  EXPECT_EQ(conv2d_out_shape({2, 16, 7, 9}, {8, 16, 1, 1}, params(2, 0)), (Shape{2, 8, 4, 5}));
  EXPECT_EQ(conv2d_out_shape({1, 3, 11, 11}, {5, 3, 3, 3}, params(1, 2, 2)), (Shape{1, 5, 11, 11}));
  EXPECT_EQ(conv2d_out_shape({1, 3, 2, 2}, {5, 3, 2, 2}, params(1, 0)), (Shape{1, 5, 1, 1}));
}

// An added dx is the written one added with axpby (the path it replaces in autograd), bit for bit,
// in both dtypes, on the GEMM path and the col2im path.
TEST(Conv2d, AccumulatedDxIsWrittenDxAddedWithAxpbyExactly) {
  struct Geometry {
    Shape x, w;
    Conv2dParams p;
  };
  const std::vector<Geometry> geometries{{{2, 5, 6, 7}, {4, 5, 1, 1}, params(1, 0)},
                                         {{2, 6, 8, 8}, {3, 6, 1, 1}, params(2, 0)},
                                         {{2, 3, 7, 6}, {4, 3, 3, 3}, params(2, 1)}};
  for (DType dtype : {DType::f32, DType::f64})
    for (const Geometry& g : geometries) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " x " + shape_str(g.x) + " w " +
                   shape_str(g.w));
      auto random = [dtype](const Shape& shape, uint64_t seed) {
        Tensor t = Tensor::empty(shape, dtype);
        fill_uniform(t, -1.0, 1.0, seed);
        return t;
      };
      const Tensor x = random(g.x, 1), w = random(g.w, 2);
      const Tensor dy = random(conv2d_out_shape(g.x, g.w, g.p), 3);
      expect_added_dx_is_written_dx_plus_axpby(g.x, dtype, [&](Tensor& dx, GradMode mode) {
        Tensor none;
        conv2d_backward(x, w, dy, dx, none, none, g.p, mode);
      });
    }
}

TEST(Conv2d, HandComputedValues) {
  // x = 1..9 as a 3×3 image, a 2×2 kernel [[1, 2], [3, 4]], bias 10:
  // y[0, 0] = 1 + 2·2 + 3·4 + 4·5 + 10 = 47, y[0, 1] = 57, y[1, 0] = 77, y[1, 1] = 87.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor b = Tensor::from_vector<double>({10}, {1});
  Tensor y = Tensor::empty({1, 1, 2, 2}, DType::f64);
  conv2d_forward(x, w, b, y, params(1, 0));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{47, 57, 77, 87}));
  // Backward with dy = 1: dx[i, j] = Σ of the kernel taps that touch pixel (i, j);
  // dw[r, s] = Σ of the 2×2 window at (r, s); dbias = 4.
  Tensor dy = Tensor::full({1, 1, 2, 2}, 1.0, DType::f64);
  Tensor dx = Tensor::full({1, 1, 3, 3}, std::numeric_limits<double>::quiet_NaN(), DType::f64);
  Tensor dw = Tensor::zeros({1, 1, 2, 2}, DType::f64), db = Tensor::zeros({1}, DType::f64);
  conv2d_backward(x, w, dy, dx, dw, db, params(1, 0));
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
  EXPECT_EQ(dw.to_vector<double>(), (std::vector<double>{12, 16, 24, 28}));
  EXPECT_EQ(db.to_vector<double>(), (std::vector<double>{4}));

  // Dilation 2: a 2×2 kernel of ones reads the four corners: 1 + 3 + 7 + 9 = 20.
  Tensor ones = Tensor::full({1, 1, 2, 2}, 1.0, DType::f64), y1 = Tensor::empty({1, 1, 1, 1}, DType::f64);
  conv2d_forward(x, ones, Tensor(), y1, params(1, 0, 2));
  EXPECT_EQ(y1.item(), 20.0);
  Tensor dy1 = Tensor::full({1, 1, 1, 1}, 1.0, DType::f64), none;
  conv2d_backward(x, ones, dy1, dx, none, none, params(1, 0, 2));
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{1, 0, 1, 0, 0, 0, 1, 0, 1}));

  // Stride 2, pad 1, a 1×1 kernel of 2: the 3×3 output samples rows and columns −1, 1, 3, of
  // which only (1, 1) = 5 lies inside the image.
  Tensor two = Tensor::full({1, 1, 1, 1}, 2.0, DType::f64), y2 = Tensor::empty({1, 1, 3, 3}, DType::f64);
  conv2d_forward(x, two, Tensor(), y2, params(2, 1));
  EXPECT_EQ(y2.to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

TEST(Conv2d, RejectsBadArguments) {
  Tensor x = Tensor::empty({2, 3, 8, 8}), w = Tensor::empty({4, 3, 3, 3}), b = Tensor::empty({4});
  Tensor y = Tensor::empty({2, 4, 8, 8});
  const Conv2dParams p = params(1, 1);
  EXPECT_NO_THROW(conv2d_forward(x, w, b, y, p));
  EXPECT_NO_THROW(conv2d_forward(x, w, Tensor(), y, p));
  EXPECT_THROW(conv2d_forward(Tensor(), w, b, y, p), Error);
  EXPECT_THROW(conv2d_forward(Tensor::empty({3, 8, 8}), w, b, y, p), Error);        // not NCHW
  EXPECT_THROW(conv2d_forward(x, Tensor::empty({4, 2, 3, 3}), b, y, p), Error);     // channels
  EXPECT_THROW(conv2d_forward(x, Tensor::empty({4, 3, 3, 3}, DType::f64), b, y, p), Error);
  EXPECT_THROW(conv2d_forward(Tensor::empty({2, 3, 8, 8}, DType::i32), w, b, y, p), Error);
  EXPECT_THROW(conv2d_forward(x, w, Tensor::empty({3}), y, p), Error);              // bias shape
  EXPECT_THROW(conv2d_forward(x, w, Tensor::empty({4}, DType::f64), y, p), Error);
  Tensor y_wrong = Tensor::empty({2, 4, 6, 6});
  EXPECT_THROW(conv2d_forward(x, w, b, y_wrong, p), Error);                         // y shape
  Tensor y_strided = Tensor::empty({2, 4, 8, 16}).slice(3, 0, 16, 2);
  EXPECT_THROW(conv2d_forward(x, w, b, y_strided, p), Error);                       // not contiguous
  EXPECT_THROW(conv2d_forward(Tensor::empty({2, 3, 8, 16}).slice(3, 0, 8), w, b, y, p), Error);
  EXPECT_THROW(conv2d_forward(x, w, b, y, params(0, 1)), Error);                    // stride 0
  EXPECT_THROW(conv2d_forward(x, w, b, y, params(1, -1)), Error);                   // negative pad
  EXPECT_THROW(conv2d_forward(x, w, b, y, params(1, 1, 0)), Error);                 // dilation 0
  EXPECT_THROW(conv2d_forward(x, Tensor::empty({4, 3, 11, 11}), b, y, p), Error);   // kernel > input
  EXPECT_THROW(conv2d_forward(x, Tensor::empty({4, 3, 0, 3}), b, y, p), Error);     // empty kernel
  Tensor same = Tensor::empty({2, 3, 8, 8});
  EXPECT_THROW(conv2d_forward(same, Tensor::empty({3, 3, 1, 1}), Tensor(), same, params(1, 0)),
               Error);                                                              // y aliases x

  Tensor dy = Tensor::empty({2, 4, 8, 8}), dx = Tensor::empty({2, 3, 8, 8});
  Tensor dw = Tensor::empty({4, 3, 3, 3}), db = Tensor::empty({4}), none;
  EXPECT_NO_THROW(conv2d_backward(x, w, dy, dx, dw, db, p));
  EXPECT_NO_THROW(conv2d_backward(x, w, dy, none, none, none, p));
  EXPECT_THROW(conv2d_backward(x, w, Tensor::empty({2, 4, 6, 6}), dx, dw, db, p), Error);  // dy
  EXPECT_THROW(conv2d_backward(x, w, Tensor::empty({2, 4, 8, 8}, DType::f64), dx, dw, db, p), Error);
  Tensor dx_wrong = Tensor::empty({2, 3, 8, 7}), dw_wrong = Tensor::empty({4, 3, 3, 1});
  Tensor db_wrong = Tensor::empty({5}), dx_f64 = Tensor::empty({2, 3, 8, 8}, DType::f64);
  EXPECT_THROW(conv2d_backward(x, w, dy, dx_wrong, dw, db, p), Error);
  EXPECT_THROW(conv2d_backward(x, w, dy, dx_f64, dw, db, p), Error);
  EXPECT_THROW(conv2d_backward(x, w, dy, dx, dw_wrong, db, p), Error);
  EXPECT_THROW(conv2d_backward(x, w, dy, dx, dw, db_wrong, p), Error);
  EXPECT_THROW(conv2d_backward(x, w, dy, dx, dw, db, params(1, 0)), Error);        // dy for pad 0
  Tensor dy_alias = dy.view({2, 4, 8, 8});
  Tensor dx_alias = dy.view({-1}).slice(0, 0, 2 * 3 * 8 * 8).view({2, 3, 8, 8});
  EXPECT_THROW(conv2d_backward(x, w, dy_alias, dx_alias, dw, db, p), Error);       // dx aliases dy
}

}  // namespace autonet::test
