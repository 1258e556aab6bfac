// Rows and hand-computed checks for kernels/dropout.h.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/dropout.h"
#include "tests/kernels/accumulate_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// dx written, or added per dx_mode (the recurrent cell's states already hold a gradient).
OpCase dropout_case(const Shape& shape, double p, int64_t mask_period, uint64_t seed,
                    int fd_samples = 24, GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = "dropout/p" + std::to_string(p) + "/period" + std::to_string(mask_period) + "/" +
           shape_str(shape) + (dx_mode == GradMode::Accumulate ? "/dx_added" : "");
  c.inputs = {{"x", shape}};
  c.inputs[0].grad_mode = dx_mode;
  c.outputs = {{"y", shape}};
  DropoutParams params;
  params.p = p;
  params.key = PhiloxKey{seed, 3, 17};
  params.mask_period = mask_period;
  c.forward = [params](const Tensors& in, Tensors& out) { dropout_forward(in[0], out[0], params); };
  c.backward = [params, dx_mode](const Tensors&, const Tensors&, const Tensors& dout,
                                 Tensors& din) {
    dropout_backward(dout[0], din[0], params, dx_mode);
  };
  c.set_tolerance(0, 0, "the same Philox decisions and one multiplication by the same float scale");
  c.exact_on_integers = true;
  c.stochastic = true;
  c.fd_samples = fd_samples;
  return c;
}
// A recurrent search node's predecessors: J parts [1, B, H], their stack and its locked-dropout
// copy; the parts' gradients written, or (`added`) added into gradients already there.
OpCase stack_dropout_case(int64_t parts, int64_t batch, int64_t hidden, double p, uint64_t seed,
                          bool added = false) {
  OpCase c;
  c.name = "dropout/stack/p" + std::to_string(p) + "/" +
           shape_str({parts, batch, hidden}) + (added ? "/dx_added" : "");
  std::vector<GradMode> modes;
  for (int64_t j = 0; j < parts; ++j) {
    c.inputs.push_back({"x" + std::to_string(j), {1, batch, hidden}});
    // Added: every other part (a state that already holds a gradient from a later node).
    c.inputs.back().grad_mode = added && j % 2 == 0 ? GradMode::Accumulate : GradMode::Write;
    modes.push_back(c.inputs.back().grad_mode);
  }
  c.outputs = {{"y", {parts, batch, hidden}}, {"y_dropped", {parts, batch, hidden}}};
  DropoutParams params;
  params.p = p;
  params.key = PhiloxKey{seed, 5, 23};
  params.mask_period = batch * hidden;  // locked: one mask for every state
  c.forward = [params](const Tensors& in, Tensors& out) {
    stack_dropout_forward(in, out[0], out[1], params);
  };
  c.backward = [params, modes](const Tensors&, const Tensors&, const Tensors& dout,
                               Tensors& din) {
    stack_dropout_backward(dout[0], dout[1], din, modes, params);
  };
  c.set_tolerance(0, 0, "the same Philox decisions, products and sums, each rounded once");
  c.exact_on_integers = true;
  c.stochastic = true;
  return c;
}
}  // namespace

std::vector<OpCase> dropout_cases() {
  std::vector<OpCase> rows;
  rows.push_back(dropout_case({1}, 0.5, 0, 1));
  rows.push_back(dropout_case({7, 13}, 0.0, 0, 2));  // p = 0: identity
  rows.push_back(dropout_case({7, 13}, 0.3, 0, 3));
  rows.push_back(dropout_case({35, 4, 17}, 0.25, 4 * 17, 4));  // locked over time, odd sizes
  // DARTS RNN (PTB): [T 35, B 64, D 300] with locked dropout on the inputs.
  rows.push_back(dropout_case({35, 64, 300}, 0.2, 64 * 300, 5, 4));
  rows.push_back(dropout_case(darts_image_shapes()[0], 0.2, 0, 6, 4));  // few probes: 4M elements
  // Added into a gradient already there: a recurrent node's stacked states ([J, B, H], locked).
  rows.push_back(dropout_case({3, 4, 17}, 0.25, 4 * 17, 7, 24, GradMode::Accumulate));
  rows.push_back(dropout_case({5000}, 0.5, 0, 8, 24, GradMode::Accumulate));  // past one chunk
  // A recurrent search node's stack and its dropped copy in one op: one part, several, DARTS's
  // last node (8 predecessors, batch 64, nhid 300), and gradients added into some parts.
  rows.push_back(stack_dropout_case(1, 3, 5, 0.25, 9));
  rows.push_back(stack_dropout_case(4, 3, 17, 0.25, 10));
  rows.push_back(stack_dropout_case(8, 64, 300, 0.25, 11));
  rows.push_back(stack_dropout_case(5, 4, 7, 0.5, 12, /*added=*/true));
  return rows;
}

TEST(Dropout, HandComputedValues) {
  // p = 0 is the identity.
  Tensor x = Tensor::from_vector<float>({1, -2, 3, 4.5f}, {4}), y = Tensor::empty({4});
  DropoutParams params;
  params.key = PhiloxKey{11, 0, 0};
  dropout_forward(x, y, params);
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());

  // Every element is either dropped or scaled by exactly 1/(1 − p), following philox_uniform.
  params.p = 0.5;
  Tensor ones = Tensor::full({64}, 1.0, DType::f64), out = Tensor::empty({64}, DType::f64);
  dropout_forward(ones, out, params);
  const std::vector<double> v = out.to_vector<double>();
  int kept = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const bool keep = philox_uniform(params.key, i) >= 0.5f;
    EXPECT_EQ(v[i], keep ? 2.0 : 0.0) << i;
    kept += keep;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 64);

  // Backward applies the same mask: dx = dy · mask · 2.
  Tensor dy = Tensor::full({64}, 3.0, DType::f64), dx = Tensor::empty({64}, DType::f64);
  dropout_backward(dy, dx, params);
  const std::vector<double> g = dx.to_vector<double>();
  for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(g[i], v[i] * 3.0) << i;
}

// Added into a gradient already there: the written dx added with axpby, bit for bit.
TEST(Dropout, AccumulatedDxIsWrittenDxAddedWithAxpbyExactly) {
  for (DType dtype : {DType::f32, DType::f64}) {
    DropoutParams params;
    params.p = 0.3;
    params.key = PhiloxKey{5, 1, 2};
    Tensor dy = Tensor::empty({3, 4, 700}, dtype);  // 8,400 elements: three chunks
    fill_uniform(dy, -1.0, 1.0, 4);
    expect_added_dx_is_written_dx_plus_axpby({3, 4, 700}, dtype, [&](Tensor& dx, GradMode mode) {
      dropout_backward(dy, dx, params, mode);
    });
  }
}

TEST(Dropout, KeepsAboutOneMinusP) {
  const int64_t n = 1 << 20;  // binomial standard deviation of the fraction ≤ 0.0005
  Tensor ones = Tensor::full({n}, 1.0), y = Tensor::empty({n});
  for (double p : {0.1, 0.5, 0.8}) {
    DropoutParams params;
    params.p = p;
    params.key = PhiloxKey{2024, 5, 0};
    dropout_forward(ones, y, params);
    const std::vector<float> v = y.to_vector<float>();
    int64_t kept = 0;
    for (float e : v) kept += e != 0.0f;
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.003) << "p = " << p;
  }
}

TEST(Dropout, LockedMaskRepeatsOverTime) {
  const int64_t t = 6, b = 3, d = 5;  // [T, B, D], mask period B·D
  Tensor x = Tensor::full({t, b, d}, 1.0), y = Tensor::empty({t, b, d});
  DropoutParams params;
  params.p = 0.5;
  params.key = PhiloxKey{7, 1, 3};
  params.mask_period = b * d;
  dropout_forward(x, y, params);
  const std::vector<float> v = y.to_vector<float>();
  int dropped = 0;
  for (int64_t u = 0; u < b * d; ++u) {
    dropped += v[u] == 0.0f;
    for (int64_t step = 1; step < t; ++step) EXPECT_EQ(v[step * b * d + u], v[u]) << "unit " << u;
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, b * d);
  // Without the period, time steps draw differently.
  params.mask_period = 0;
  dropout_forward(x, y, params);
  const std::vector<float> w = y.to_vector<float>();
  EXPECT_NE(std::vector<float>(w.begin(), w.begin() + b * d),
            std::vector<float>(w.begin() + b * d, w.begin() + 2 * b * d));
}

TEST(Dropout, RejectsBadArguments) {
  Tensor x = Tensor::empty({4, 6}), y = Tensor::empty({4, 6});
  DropoutParams params;
  params.p = 0.5;
  dropout_forward(x, y, params);  // the valid call
  Tensor wrong = Tensor::empty({6, 4}), d = Tensor::empty({4, 6}, DType::f64);
  EXPECT_THROW(dropout_forward(x, wrong, params), Error);
  EXPECT_THROW(dropout_forward(x, d, params), Error);
  Tensor ints = Tensor::empty({4, 6}, DType::i32);
  EXPECT_THROW(dropout_forward(ints, ints, params), Error);
  Tensor strided = Tensor::empty({4, 12}).slice(1, 0, 12, 2);
  EXPECT_THROW(dropout_forward(strided, y, params), Error);
  EXPECT_THROW(dropout_backward(x, wrong, params), Error);
  DropoutParams bad = params;
  bad.p = 1.0;
  EXPECT_THROW(dropout_forward(x, y, bad), Error);
  bad.p = -0.1;
  EXPECT_THROW(dropout_forward(x, y, bad), Error);
  bad = params;
  bad.mask_period = -1;
  EXPECT_THROW(dropout_forward(x, y, bad), Error);
  bad.mask_period = 5;  // does not divide 24
  EXPECT_THROW(dropout_backward(x, y, bad), Error);
}

}  // namespace autonet::test
