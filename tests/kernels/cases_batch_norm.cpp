// Rows and hand-computed checks for kernels/batch_norm.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/batch_norm.h"
#include "kernels/batch_norm_math.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
struct BnVariant {
  bool training = true;
  bool affine = true;
  bool tracked = true;  // running statistics defined
  double momentum = 0.1;
  bool from_output = false;  // backward given y instead of x (affine-free only)
};

std::string variant_name(const BnVariant& v) {
  std::string s = v.training ? "train" : "eval";
  s += v.affine ? "_affine" : "_plain";
  if (!v.tracked) s += "_untracked";
  if (v.momentum != 0.1) s += "_momentum";
  if (v.from_output) s += "_from_output";
  return s;
}

// Inputs [x, (weight, bias), (running_mean, running_var)]; outputs [y, save_mean, save_invstd,
// (running_mean_new, running_var_new)]. The running statistics are inputs that the forward copies
// into its outputs before updating them, so repeated forwards (finite differences, CPU vs CUDA)
// start from the same state and the update itself is compared too.
OpCase batch_norm_case(const BnVariant& v, const Shape& shape, int fd_samples = 24) {
  OpCase c;
  c.name = "batch_norm/" + variant_name(v) + "/" + shape_str(shape);
  const Shape channels{shape[1]};
  c.inputs = {{"x", shape}};
  if (v.affine) {
    InputSpec weight{"weight", channels, Fill::uniform, 0.5, 1.5};
    weight.grad_mode = GradMode::Accumulate;
    InputSpec bias{"bias", channels};
    bias.grad_mode = GradMode::Accumulate;
    c.inputs.push_back(weight);
    c.inputs.push_back(bias);
  }
  if (v.tracked) {
    InputSpec mean{"running_mean", channels};
    InputSpec var{"running_var", channels, Fill::uniform, 0.5, 2.0};
    mean.differentiable = var.differentiable = false;
    c.inputs.push_back(mean);
    c.inputs.push_back(var);
  }
  c.outputs = {{"y", shape}, {"save_mean", channels, false}, {"save_invstd", channels, false}};
  if (v.tracked) {
    c.outputs.push_back({"running_mean_new", channels, false});
    c.outputs.push_back({"running_var_new", channels, false});
  }
  BatchNormParams p;
  p.training = v.training;
  p.momentum = v.momentum;
  BatchNormParams backward_params = p;
  backward_params.backward_from_output = v.from_output;
  const bool affine = v.affine, tracked = v.tracked, from_output = v.from_output;
  const size_t running_at = affine ? 3 : 1;
  c.forward = [=](const Tensors& in, Tensors& out) {
    Tensor weight = affine ? in[1] : Tensor(), bias = affine ? in[2] : Tensor();
    Tensor rm, rv;
    if (tracked) {
      out[3].copy_from(in[running_at]);
      out[4].copy_from(in[running_at + 1]);
      rm = out[3], rv = out[4];
    }
    batch_norm_forward(in[0], weight, bias, rm, rv, out[0], out[1], out[2], p);
  };
  c.backward = [=](const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din) {
    Tensor weight = affine ? in[1] : Tensor();
    Tensor dweight = affine ? din[1] : Tensor(), dbias = affine ? din[2] : Tensor();
    const Tensor& saved = from_output ? out[0] : in[0];
    batch_norm_backward(saved, weight, out[1], out[2], dout[0], din[0], dweight, dbias,
                        backward_params);
  };
  const bool big = shape_numel(shape) > 100000;
  c.atol = big ? 2e-4 : 1e-5;
  c.rtol = 1e-4;
  c.why = "per-channel sums of up to 65536 floats in another order (the CPU sums in double), "
          "then rsqrt-free 1/sqrt in double on both sides";
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> batch_norm_cases() {
  std::vector<OpCase> rows;
  const BnVariant train_affine{}, train_plain{true, false, true};
  const BnVariant train_untracked{true, true, false}, train_momentum{true, true, true, 0.3};
  const BnVariant eval_affine{false, true, true}, eval_plain{false, false, true};
  for (const BnVariant& v : {train_affine, train_plain, eval_affine, eval_plain}) {
    rows.push_back(batch_norm_case(v, {2, 3, 5, 7}));
    rows.push_back(batch_norm_case(v, {5, 3}));  // 1d
  }
  rows.push_back(batch_norm_case(train_affine, {1, 4, 3, 3}));  // N = 1: statistics over H·W
  rows.push_back(batch_norm_case(train_affine, {3, 1, 1, 1}));  // C = 1, one pixel
  rows.push_back(batch_norm_case(train_plain, {2, 1}));         // the smallest legal training batch
  rows.push_back(batch_norm_case(eval_affine, {1, 1}));
  rows.push_back(batch_norm_case(train_untracked, {3, 4, 5, 5}));
  rows.push_back(batch_norm_case(train_momentum, {4, 2, 3, 3}));
  rows.push_back(batch_norm_case(train_affine, {13, 17}));  // primes, 1d
  // The recurrent search cell's BNs ([batch, nhid], one launch each way on a GPU), and a channel
  // of one value more than one launch takes (batch_norm_in_one_launch).
  rows.push_back(batch_norm_case({true, false, true, 0.1, true}, {256, 300}, 4));
  rows.push_back(batch_norm_case(train_affine, {kOneLaunchChannelValues + 1, 3}, 4));
  // DARTS: every search-network BN is affine = False; the stem's is affine.
  for (const Shape& s : darts_image_shapes()) rows.push_back(batch_norm_case(train_plain, s, 4));
  rows.push_back(batch_norm_case(train_affine, darts_image_shapes()[0], 2));
  rows.push_back(batch_norm_case(eval_plain, darts_image_shapes()[2], 4));
  // Backward from the output, as the autograd layer runs every affine-free BN.
  const BnVariant train_from_output{true, false, true, 0.1, true};
  const BnVariant eval_from_output{false, false, true, 0.1, true};
  rows.push_back(batch_norm_case(train_from_output, {2, 3, 5, 7}));
  rows.push_back(batch_norm_case(train_from_output, {5, 3}));
  rows.push_back(batch_norm_case(eval_from_output, {2, 3, 5, 7}));
  rows.push_back(batch_norm_case(train_from_output, darts_image_shapes()[1], 4));
  return rows;
}

namespace {
// x [N = 2, C = 2, H = 1, W = 2] in NCHW order: channel 0 holds {1, 2, 3, 6}, channel 1 holds
// {0, 0, 4, 4}.
Tensor small_x() {
  return Tensor::from_vector<double>({1, 2, 0, 0, 3, 6, 4, 4}, {2, 2, 1, 2});
}
}  // namespace

TEST(BatchNorm, TrainingByHandUpdatesRunningStatistics) {
  // Channel 0: mean 3, Σ(x − mean)² = 4 + 1 + 0 + 9 = 14: biased var 3.5, unbiased 14/3.
  // Channel 1: mean 2, Σ(x − mean)² = 16: biased var 4, unbiased 16/3.
  const Tensor x = small_x();
  const Tensor weight = Tensor::from_vector<double>({2.0, -1.0}, {2});
  const Tensor bias = Tensor::from_vector<double>({0.5, 0.0}, {2});
  Tensor rm = Tensor::from_vector<double>({0.0, 1.0}, {2});
  Tensor rv = Tensor::from_vector<double>({1.0, 2.0}, {2});
  Tensor y = Tensor::empty({2, 2, 1, 2}, DType::f64);
  Tensor save_mean = Tensor::empty({2}, DType::f64), save_invstd = Tensor::empty({2}, DType::f64);
  BatchNormParams p;  // training, momentum 0.1, eps 1e-5
  batch_norm_forward(x, weight, bias, rm, rv, y, save_mean, save_invstd, p);

  // running ← 0.9·running + 0.1·batch (unbiased variance).
  EXPECT_NEAR(rm.to_vector<double>()[0], 0.3, 1e-15);
  EXPECT_NEAR(rm.to_vector<double>()[1], 0.9 + 0.2, 1e-15);
  EXPECT_NEAR(rv.to_vector<double>()[0], 0.9 + 0.1 * 14.0 / 3.0, 1e-15);
  EXPECT_NEAR(rv.to_vector<double>()[1], 1.8 + 0.1 * 16.0 / 3.0, 1e-15);
  const double is0 = 1.0 / std::sqrt(3.5 + 1e-5), is1 = 1.0 / std::sqrt(4.0 + 1e-5);
  EXPECT_NEAR(save_mean.to_vector<double>()[0], 3.0, 1e-15);
  EXPECT_NEAR(save_mean.to_vector<double>()[1], 2.0, 1e-15);
  EXPECT_NEAR(save_invstd.to_vector<double>()[0], is0, 1e-15);
  EXPECT_NEAR(save_invstd.to_vector<double>()[1], is1, 1e-15);
  // y = (x − mean)·invstd·w + b, normalised with the biased variance.
  const std::vector<double> expected = {
      (1 - 3) * is0 * 2 + 0.5, (2 - 3) * is0 * 2 + 0.5, (0 - 2) * is1 * -1, (0 - 2) * is1 * -1,
      (3 - 3) * is0 * 2 + 0.5, (6 - 3) * is0 * 2 + 0.5, (4 - 2) * is1 * -1, (4 - 2) * is1 * -1};
  const std::vector<double> got = y.to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-14) << i;

  // Untracked running statistics: the same output, nothing else touched.
  Tensor none_mean, none_var, y2 = Tensor::empty({2, 2, 1, 2}, DType::f64);
  batch_norm_forward(x, weight, bias, none_mean, none_var, y2, save_mean, save_invstd, p);
  EXPECT_EQ(y2.to_vector<double>(), got);
}

TEST(BatchNorm, TrainingBackwardByHand) {
  // dy constant per channel: the mean subtraction removes it, so dx = 0, dbias = Σ dy = 4·dy and
  // dweight = Σ dy·x̂ = dy·Σ x̂ = 0.
  const Tensor x = small_x();
  const Tensor weight = Tensor::from_vector<double>({2.0, -1.0}, {2});
  const Tensor bias = Tensor::zeros({2}, DType::f64);
  Tensor none, y = Tensor::empty({2, 2, 1, 2}, DType::f64);
  Tensor save_mean = Tensor::empty({2}, DType::f64), save_invstd = Tensor::empty({2}, DType::f64);
  BatchNormParams p;
  batch_norm_forward(x, weight, bias, none, none, y, save_mean, save_invstd, p);
  const Tensor dy = Tensor::from_vector<double>({0.5, 0.5, -3, -3, 0.5, 0.5, -3, -3}, {2, 2, 1, 2});
  Tensor dx = Tensor::full({2, 2, 1, 2}, 99.0, DType::f64);
  Tensor dweight = Tensor::full({2}, 1.0, DType::f64), dbias = Tensor::full({2}, 1.0, DType::f64);
  batch_norm_backward(x, weight, save_mean, save_invstd, dy, dx, dweight, dbias, p);
  for (double v : dx.to_vector<double>()) EXPECT_NEAR(v, 0.0, 1e-14);
  EXPECT_NEAR(dbias.to_vector<double>()[0], 1.0 + 2.0, 1e-14);
  EXPECT_NEAR(dbias.to_vector<double>()[1], 1.0 - 12.0, 1e-14);
  EXPECT_NEAR(dweight.to_vector<double>()[0], 1.0, 1e-14);
  EXPECT_NEAR(dweight.to_vector<double>()[1], 1.0, 1e-14);

  // dy = x̂ on channel 0 (w = 2): mean(dy) = 0 and mean(dy·x̂) = var·invstd², so
  // dx = invstd·w·x̂·(1 − var/(var + eps)) = invstd·w·x̂·eps/(var + eps).
  const double is0 = save_invstd.to_vector<double>()[0];
  const std::vector<double> xs = {1, 2, 3, 6};
  std::vector<double> dyv(8, 0.0);
  const int64_t at[4] = {0, 1, 4, 5};  // channel 0's positions in NCHW
  for (int k = 0; k < 4; ++k) dyv[at[k]] = (xs[k] - 3) * is0;
  batch_norm_backward(x, weight, save_mean, save_invstd, Tensor::from_vector(dyv, {2, 2, 1, 2}),
                      dx, none, none, p);
  const std::vector<double> got = dx.to_vector<double>();
  for (int k = 0; k < 4; ++k)
    EXPECT_NEAR(got[at[k]], is0 * 2 * (xs[k] - 3) * is0 * 1e-5 / (3.5 + 1e-5), 1e-14) << k;
}

TEST(BatchNorm, EvalUsesRunningStatisticsByHand) {
  const Tensor x = small_x();
  const Tensor weight = Tensor::from_vector<double>({2.0, -1.0}, {2});
  const Tensor bias = Tensor::from_vector<double>({0.5, 0.25}, {2});
  Tensor rm = Tensor::from_vector<double>({1.0, -1.0}, {2});
  Tensor rv = Tensor::from_vector<double>({4.0, 0.25}, {2});
  Tensor y = Tensor::empty({2, 2, 1, 2}, DType::f64);
  Tensor save_mean = Tensor::empty({2}, DType::f64), save_invstd = Tensor::empty({2}, DType::f64);
  BatchNormParams p;
  p.training = false;
  batch_norm_forward(x, weight, bias, rm, rv, y, save_mean, save_invstd, p);
  EXPECT_EQ(rm.to_vector<double>(), (std::vector<double>{1.0, -1.0}));  // untouched
  EXPECT_EQ(rv.to_vector<double>(), (std::vector<double>{4.0, 0.25}));
  const double is0 = 1.0 / std::sqrt(4.0 + 1e-5), is1 = 1.0 / std::sqrt(0.25 + 1e-5);
  EXPECT_EQ(save_mean.to_vector<double>(), (std::vector<double>{1.0, -1.0}));
  EXPECT_NEAR(save_invstd.to_vector<double>()[0], is0, 1e-15);
  EXPECT_NEAR(save_invstd.to_vector<double>()[1], is1, 1e-15);
  const std::vector<double> xv = x.to_vector<double>(), got = y.to_vector<double>();
  for (int64_t i = 0; i < 8; ++i) {
    const int64_t c = (i / 2) % 2;
    const double expected = c == 0 ? (xv[i] - 1.0) * is0 * 2.0 + 0.5 : (xv[i] + 1.0) * is1 * -1.0 + 0.25;
    EXPECT_NEAR(got[i], expected, 1e-14) << i;
  }
  // Eval backward: the statistics are constants, dx = dy·w·invstd.
  const Tensor dy = Tensor::full({2, 2, 1, 2}, 1.0, DType::f64);
  Tensor dx = Tensor::empty({2, 2, 1, 2}, DType::f64);
  Tensor dweight = Tensor::zeros({2}, DType::f64), dbias = Tensor::zeros({2}, DType::f64);
  batch_norm_backward(x, weight, save_mean, save_invstd, dy, dx, dweight, dbias, p);
  const std::vector<double> dxv = dx.to_vector<double>();
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_NEAR(dxv[i], (i / 2) % 2 == 0 ? 2.0 * is0 : -1.0 * is1, 1e-14) << i;
  // dweight = Σ x̂: channel 0 (0 + 1 + 2 + 5)·is0 = 8·is0; channel 1 (1 + 1 + 5 + 5)·is1 = 12·is1.
  EXPECT_NEAR(dweight.to_vector<double>()[0], 8.0 * is0, 1e-13);
  EXPECT_NEAR(dweight.to_vector<double>()[1], 12.0 * is1, 1e-13);
  EXPECT_EQ(dbias.to_vector<double>(), (std::vector<double>{4.0, 4.0}));
}

TEST(BatchNorm, WithoutAffineParametersOutputIsStandardised) {
  // 1d [N = 4, C = 1]: x = {1, 2, 3, 4}, mean 2.5, biased var 1.25.
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {4, 1});
  Tensor none, y = Tensor::empty({4, 1}, DType::f64);
  Tensor save_mean = Tensor::empty({1}, DType::f64), save_invstd = Tensor::empty({1}, DType::f64);
  batch_norm_forward(x, none, none, none, none, y, save_mean, save_invstd, BatchNormParams{});
  const double is = 1.0 / std::sqrt(1.25 + 1e-5);
  const std::vector<double> got = y.to_vector<double>();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], (i + 1 - 2.5) * is, 1e-14);
}

TEST(BatchNorm, RejectsBadArguments) {
  const Shape s{2, 3, 4, 4};
  const Tensor x = Tensor::zeros(s), w = Tensor::zeros({3}), b = Tensor::zeros({3});
  Tensor rm = Tensor::zeros({3}), rv = Tensor::zeros({3}), none;
  Tensor y = Tensor::zeros(s), sm = Tensor::zeros({3}), si = Tensor::zeros({3});
  const BatchNormParams train;
  BatchNormParams eval;
  eval.training = false;
  EXPECT_NO_THROW(batch_norm_forward(x, w, b, rm, rv, y, sm, si, train));
  auto forward_throws = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb, Tensor& m,
                            Tensor& v, Tensor& yy, Tensor& s_mean, Tensor& s_invstd,
                            const BatchNormParams& p) {
    EXPECT_THROW(batch_norm_forward(xx, ww, bb, m, v, yy, s_mean, s_invstd, p), Error);
  };
  Tensor x3 = Tensor::zeros({2, 3, 4}), y3 = Tensor::zeros({2, 3, 4});
  forward_throws(x3, w, b, rm, rv, y3, sm, si, train);  // neither [N, C, H, W] nor [N, C]
  Tensor xi = Tensor::zeros(s, DType::i32), yi = Tensor::zeros(s, DType::i32);
  forward_throws(xi, w, b, rm, rv, yi, sm, si, train);
  Tensor strided = Tensor::zeros({2, 3, 4, 8}).slice(3, 0, 8, 2);
  forward_throws(strided, w, b, rm, rv, y, sm, si, train);
  forward_throws(x, Tensor::zeros({4}), b, rm, rv, y, sm, si, train);  // weight not [C]
  forward_throws(x, w, Tensor::zeros({3}, DType::f64), rm, rv, y, sm, si, train);
  forward_throws(x, w, none, rm, rv, y, sm, si, train);  // affine needs both
  forward_throws(x, w, b, rm, none, y, sm, si, train);   // running stats come in pairs
  Tensor rm2 = Tensor::zeros({2});
  forward_throws(x, w, b, rm2, rv, y, sm, si, train);
  forward_throws(x, w, b, none, none, y, sm, si, eval);  // eval needs running statistics
  Tensor y_wrong = Tensor::zeros({2, 3, 4, 5});
  forward_throws(x, w, b, rm, rv, y_wrong, sm, si, train);
  Tensor s_wrong = Tensor::zeros({4});
  forward_throws(x, w, b, rm, rv, y, s_wrong, si, train);
  forward_throws(x, w, b, rm, rv, y, sm, none, train);
  BatchNormParams bad = train;
  bad.eps = 0.0;
  forward_throws(x, w, b, rm, rv, y, sm, si, bad);
  bad = train, bad.momentum = 1.5;
  forward_throws(x, w, b, rm, rv, y, sm, si, bad);
  bad = train, bad.momentum = -0.1;
  forward_throws(x, w, b, rm, rv, y, sm, si, bad);
  // One value per channel cannot be normalised in training (PyTorch refuses it too) ...
  Tensor x1 = Tensor::zeros({1, 3, 1, 1}), y1 = Tensor::zeros({1, 3, 1, 1});
  forward_throws(x1, w, b, rm, rv, y1, sm, si, train);
  Tensor x1d = Tensor::zeros({1, 3}), y1d = Tensor::zeros({1, 3});
  forward_throws(x1d, w, b, rm, rv, y1d, sm, si, train);
  // ... but is fine in eval.
  EXPECT_NO_THROW(batch_norm_forward(x1, w, b, rm, rv, y1, sm, si, eval));

  const Tensor dy = Tensor::zeros(s);
  Tensor dx = Tensor::zeros(s), dw = Tensor::zeros({3}), db = Tensor::zeros({3});
  EXPECT_NO_THROW(batch_norm_backward(x, w, sm, si, dy, dx, dw, db, train));
  EXPECT_NO_THROW(batch_norm_backward(x, w, sm, si, dy, none, none, none, train));
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, Tensor::zeros({2, 3, 4, 5}), dx, dw, db, train),
               Error);
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, dy, y_wrong, dw, db, train), Error);
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, dy, dx, s_wrong, db, train), Error);
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, dy, dx, dw, s_wrong, train), Error);
  EXPECT_THROW(batch_norm_backward(x, none, sm, si, dy, dx, dw, db, train), Error);  // no params
  EXPECT_THROW(batch_norm_backward(x, w, none, si, dy, dx, dw, db, train), Error);
  EXPECT_THROW(batch_norm_backward(x, w, sm, s_wrong, dy, dx, dw, db, train), Error);
  EXPECT_THROW(batch_norm_backward(x3, w, sm, si, Tensor::zeros({2, 3, 4}), y3, dw, db, train),
               Error);
  Tensor dx64 = Tensor::zeros(s, DType::f64);
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, dy, dx64, dw, db, train), Error);
  EXPECT_THROW(batch_norm_backward(x, w, sm, si, dy, dx, dw, db, bad), Error);
}

}  // namespace autonet::test

namespace autonet::test {
// An affine-free BN's output is x̂ bit for bit, so backward from it equals backward from the input.
TEST(BatchNorm, BackwardFromTheOutputEqualsBackwardFromTheInput) {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::empty({4, 3, 5, 5}, dtype), dy = Tensor::empty({4, 3, 5, 5}, dtype);
    fill_uniform(x, -2.0, 3.0, 7);
    fill_uniform(dy, -1.0, 1.0, 8);
    Tensor y = Tensor::empty(x.shape(), dtype), rm, rv;
    Tensor mean = Tensor::empty({3}, dtype), invstd = Tensor::empty({3}, dtype);
    BatchNormParams p;
    batch_norm_forward(x, Tensor(), Tensor(), rm, rv, y, mean, invstd, p);
    Tensor from_input = Tensor::empty(x.shape(), dtype), from_output = from_input.clone();
    Tensor none;
    batch_norm_backward(x, Tensor(), mean, invstd, dy, from_input, none, none, p);
    p.backward_from_output = true;
    batch_norm_backward(y, Tensor(), mean, invstd, dy, from_output, none, none, p);
    EXPECT_EQ(from_input.to(DType::f64).to_vector<double>(),
              from_output.to(DType::f64).to_vector<double>())
        << dtype_name(dtype);
    // Affine BNs refuse it: their output is not x̂.
    const Tensor weight = Tensor::full({3}, 1.0, dtype);
    EXPECT_THROW(batch_norm_backward(y, weight, mean, invstd, dy, from_output, none, none, p),
                 Error);
  }
}
// The CPU twin takes a small [N, C] input row by row (kernels/cpu/batch_norm.cpp); the results
// must be those of the per-channel loops it replaces (batch_norm_math.h), bit for bit: values,
// statistics, running statistics, and every gradient, in each mode.
TEST(BatchNorm, RowsOfA2dInputEqualTheChannelLoopsBitForBit) {
  const int64_t N = 37, C = 53;
  for (DType dtype : {DType::f32, DType::f64})
    for (const BnVariant& v :
         {BnVariant{}, BnVariant{true, false}, BnVariant{false, true},
          BnVariant{true, false, true, 0.1, true}, BnVariant{true, true, false}}) {
      const std::string what = variant_name(v) + " " + std::string(dtype_name(dtype));
      Tensor x = Tensor::empty({N, C}, dtype), dy = Tensor::empty({N, C}, dtype);
      fill_uniform(x, -2.0, 3.0, 5);
      fill_uniform(dy, -1.0, 1.0, 6);
      Tensor w, b, dw, db, rm, rv;
      if (v.affine) {
        w = Tensor::empty({C}, dtype), b = Tensor::empty({C}, dtype);
        fill_uniform(w, 0.5, 1.5, 7);
        fill_uniform(b, -0.5, 0.5, 8);
        dw = Tensor::full({C}, 0.25, dtype), db = Tensor::full({C}, -0.25, dtype);
      }
      if (v.tracked) {
        rm = Tensor::empty({C}, dtype), rv = Tensor::empty({C}, dtype);
        fill_uniform(rm, -0.5, 0.5, 9);
        fill_uniform(rv, 0.5, 2.0, 10);
      }
      BatchNormParams p;
      p.training = v.training, p.momentum = v.momentum;
      Tensor y = Tensor::empty({N, C}, dtype), mean = Tensor::empty({C}, dtype),
             invstd = Tensor::empty({C}, dtype);
      Tensor rm_ref = rm.defined() ? rm.clone() : rm, rv_ref = rv.defined() ? rv.clone() : rv;
      Tensor dw_ref = dw.defined() ? dw.clone() : dw, db_ref = db.defined() ? db.clone() : db;
      batch_norm_forward(x, w, b, rm, rv, y, mean, invstd, p);
      Tensor dx = Tensor::empty({N, C}, dtype);
      p.backward_from_output = v.from_output;
      batch_norm_backward(v.from_output ? y : x, w, mean, invstd, dy, dx, dw, db, p);

      Tensor y_ref = y.clone(), mean_ref = mean.clone(), invstd_ref = invstd.clone(),
             dx_ref = dx.clone();
      dispatch_float(dtype, "test", [&]<class T>() {
        const BnDims d(x);
        auto ptr = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        BatchNormParams forward = p;
        forward.backward_from_output = false;
        for (int64_t c = 0; c < C; ++c)
          bn_forward_channel(x.data<T>(), d, c, forward, ptr(w), ptr(b), ptr(rm_ref), ptr(rv_ref),
                             y_ref.data<T>(), mean_ref.data<T>(), invstd_ref.data<T>());
        const T* saved = v.from_output ? y_ref.data<T>() : x.data<T>();
        for (int64_t c = 0; c < C; ++c)
          bn_backward_channel(saved, dy.data<T>(), d, c, p, ptr(w), mean_ref.data<T>(),
                              invstd_ref.data<T>(), dx_ref.data<T>(), ptr(dw_ref), ptr(db_ref));
      });
      auto same = [&](const Tensor& a, const Tensor& b, const char* name) {
        if (!a.defined()) return;
        EXPECT_EQ(a.to(DType::f64).to_vector<double>(), b.to(DType::f64).to_vector<double>())
            << name << ", " << what;
      };
      same(y, y_ref, "y");
      same(mean, mean_ref, "mean");
      same(invstd, invstd_ref, "invstd");
      same(rm, rm_ref, "running mean");
      same(rv, rv_ref, "running var");
      same(dx, dx_ref, "dx");
      same(dw, dw_ref, "dweight");
      same(db, db_ref, "dbias");
    }
}

}  // namespace autonet::test
