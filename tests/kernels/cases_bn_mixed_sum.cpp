// Rows and checks for kernels/bn_mixed_sum.h: the table's rows, and the fused op against what it
// replaces (batch_norm of each candidate, then mixed_sum).
#include <gtest/gtest.h>

#include "kernels/bn_mixed_sum.h"
#include "kernels/elementwise.h"
#include "tests/kernels/group_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
struct FusedVariant {
  std::vector<bool> normalize;  // K flags
  bool training = true;
  bool tracked = true;  // the normalised candidates' running statistics defined
  // Candidate k's dx is written or added per dx_modes[k % size] (a skip_connect candidate's state
  // usually has a gradient already).
  std::vector<GradMode> dx_modes{GradMode::Write};
  GradMode dx_mode(size_t k) const { return dx_modes[k % dx_modes.size()]; }
  std::vector<GradMode> all_dx_modes() const {
    std::vector<GradMode> modes;
    for (size_t k = 0; k < normalize.size(); ++k) modes.push_back(dx_mode(k));
    return modes;
  }
};

std::string variant_name(const FusedVariant& v) {
  std::string s = v.training ? "train" : "eval";
  if (!v.tracked) s += "_untracked";
  s += "_";
  // Normalised or plain per candidate, "a" after one whose dx accumulates.
  for (size_t k = 0; k < v.normalize.size(); ++k)
    s +=
        std::string(v.normalize[k] ? "n" : "p") + (v.dx_mode(k) == GradMode::Accumulate ? "a" : "");
  return s;
}

// Inputs [w, x_0 … x_{K−1}, then (running_mean, running_var) of each tracked normalised
// candidate]; outputs [out, save_mean, save_invstd, then the running statistics after the
// update]. As in the batch_norm rows, the forward copies the running statistics into its outputs
// before updating them, so repeated forwards start from the same state.
OpCase bn_mixed_sum_case(const FusedVariant& v, const Shape& shape, int fd_samples = 24) {
  OpCase c;
  c.name = "bn_mixed_sum/";
  c.name += variant_name(v);
  c.name += "/";
  c.name += shape_str(shape);
  const int64_t k_count = std::ssize(v.normalize), channels = shape[1];
  InputSpec w{"w", {k_count}};
  w.grad_mode = GradMode::Accumulate;  // α-side parameter gradient
  c.inputs = {w};
  for (int64_t k = 0; k < k_count; ++k) {
    InputSpec x{"x", shape, Fill::uniform, -2.0, 3.0};  // mean ≠ 0: the shift matters
    x.name += std::to_string(k);
    x.grad_mode = v.dx_mode(k);
    c.inputs.push_back(x);
  }
  std::vector<int64_t> tracked;  // candidates with running statistics
  for (int64_t k = 0; k < k_count; ++k)
    if (v.normalize[k] && v.tracked) tracked.push_back(k);
  c.outputs = {{"out", shape},
               {"save_mean", {k_count, channels}, false},
               {"save_invstd", {k_count, channels}, false}};
  for (int64_t k : tracked) {
    InputSpec mean{"running_mean" + std::to_string(k), {channels}};
    InputSpec var{"running_var" + std::to_string(k), {channels}, Fill::uniform, 0.5, 2.0};
    mean.differentiable = var.differentiable = false;
    c.inputs.push_back(mean);
    c.inputs.push_back(var);
    c.outputs.push_back({"running_mean_new" + std::to_string(k), {channels}, false});
    c.outputs.push_back({"running_var_new" + std::to_string(k), {channels}, false});
  }
  BnMixedSumParams p;
  p.bn.training = v.training;
  p.normalize = v.normalize;
  const std::vector<GradMode> dx_modes = v.all_dx_modes();
  c.forward = [=](const Tensors& in, Tensors& out) {
    const std::vector<Tensor> xs(in.begin() + 1, in.begin() + 1 + k_count);
    std::vector<Tensor> means(k_count), vars(k_count);
    for (size_t t = 0; t < tracked.size(); ++t) {
      out[3 + 2 * t].copy_from(in[1 + k_count + 2 * t]);
      out[4 + 2 * t].copy_from(in[2 + k_count + 2 * t]);
      means[tracked[t]] = out[3 + 2 * t];
      vars[tracked[t]] = out[4 + 2 * t];
    }
    bn_mixed_sum_forward(in[0], xs, means, vars, out[0], out[1], out[2], p);
  };
  c.backward = [=](const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din) {
    const std::vector<Tensor> xs(in.begin() + 1, in.begin() + 1 + k_count);
    std::vector<Tensor> dxs(din.begin() + 1, din.begin() + 1 + k_count);  // views into din
    bn_mixed_sum_backward(in[0], xs, out[1], out[2], dout[0], dxs, din[0], p, dx_modes);
  };
  const bool big = shape_numel(shape) > 100000;
  c.atol = big ? 2e-4 : 1e-5;
  c.rtol = 1e-4;
  c.why = "per-channel sums of up to 65536 values in double in another order, then K float "
          "products summed (CUDA may fuse them); dw sums 1M products per candidate";
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> bn_mixed_sum_cases() {
  const GradMode W = GradMode::Write, A = GradMode::Accumulate;
  std::vector<OpCase> rows;
  // A DARTS normal edge without `none`: max/avg pool → BN, skip_connect (plain), sep × 2 and
  // dil × 2 convs ending in BN.
  const std::vector<bool> darts_edge{true, true, false, true, true, true, true};
  const FusedVariant train{darts_edge}, eval{darts_edge, false};
  const FusedVariant untracked{darts_edge, true, false};
  rows.push_back(bn_mixed_sum_case(train, {2, 3, 5, 7}));
  rows.push_back(bn_mixed_sum_case(eval, {2, 3, 5, 7}));
  rows.push_back(bn_mixed_sum_case(untracked, {3, 2, 4, 4}));
  // Gradients added into what is there, per candidate: skip_connect's (the state's own, which
  // later nodes gave already) and some BN candidates', in training and eval.
  rows.push_back(bn_mixed_sum_case({darts_edge, true, true, {W, A, A}}, {2, 3, 5, 7}));
  rows.push_back(bn_mixed_sum_case({darts_edge, false, true, {A}}, {2, 3, 5, 7}));
  rows.push_back(bn_mixed_sum_case({{false, true, false}, true, true, {A, W}}, {3, 5, 7, 1}));
  rows.push_back(bn_mixed_sum_case({{true}}, {1, 4, 3, 3}));         // one BN; N = 1
  rows.push_back(bn_mixed_sum_case({{false}}, {2, 1, 1, 1}));        // a plain mixed sum
  rows.push_back(bn_mixed_sum_case({{true, true}}, {2, 1, 1, 2}));   // two values per channel
  rows.push_back(bn_mixed_sum_case({{false, true, false}}, {3, 5, 7, 1}));  // primes
  rows.push_back(
      bn_mixed_sum_case({std::vector<bool>(kMaxFoldedCandidates, true)}, {2, 2, 3, 3}, 4));
  // A DARTS node whose 5 incoming edges are summed as one op: 35 candidates.
  std::vector<bool> darts_node;
  for (int e = 0; e < 5; ++e)
    darts_node.insert(darts_node.end(), darts_edge.begin(), darts_edge.end());
  rows.push_back(bn_mixed_sum_case({darts_node}, {2, 3, 4, 4}));
  rows.push_back(bn_mixed_sum_case({darts_node, true, true, {W, W, A, W, A}}, {2, 3, 4, 4}, 8));
  // The DARTS shapes (a reduction edge's 7 BN candidates at the smallest): finite differences on
  // the 262,144-element one, CUDA parity on all.
  for (const Shape& s : darts_image_shapes()) {
    OpCase c = bn_mixed_sum_case(train, s, 2);
    c.check_finite_differences = shape_numel(s) <= 262144;
    rows.push_back(std::move(c));
  }
  OpCase mixed_modes =
      bn_mixed_sum_case({darts_edge, true, true, {A, W}}, darts_image_shapes()[2], 2);
  mixed_modes.check_finite_differences = false;  // the rows above probe these gradients
  rows.push_back(std::move(mixed_modes));
  return rows;
}

namespace {
// The fused op against batch_norm_forward/backward of each candidate and mixed_sum, in float64.
void expect_fused_equals_composition(const FusedVariant& v, const Shape& shape) {
  const int64_t k_count = std::ssize(v.normalize), channels = shape[1];
  Tensor w = Tensor::empty({k_count}, DType::f64), dout = Tensor::empty(shape, DType::f64);
  fill_uniform(w, 0.1, 1.0, 1);
  fill_uniform(dout, -1.0, 1.0, 2);
  std::vector<Tensor> xs, fused_means, fused_vars, ref_means, ref_vars;
  for (int64_t k = 0; k < k_count; ++k) {
    xs.push_back(Tensor::empty(shape, DType::f64));
    fill_uniform(xs.back(), -2.0, 3.0, 10 + static_cast<uint64_t>(k));
    Tensor mean, var;
    if (v.normalize[k]) {
      mean = Tensor::empty({channels}, DType::f64);
      var = Tensor::empty({channels}, DType::f64);
      fill_uniform(mean, -1.0, 1.0, 30 + static_cast<uint64_t>(k));
      fill_uniform(var, 0.5, 2.0, 40 + static_cast<uint64_t>(k));
    }
    fused_means.push_back(mean.defined() ? mean.clone() : mean);
    fused_vars.push_back(var.defined() ? var.clone() : var);
    ref_means.push_back(mean);
    ref_vars.push_back(var);
  }
  BnMixedSumParams p;
  p.bn.training = v.training;
  p.normalize = v.normalize;

  // Reference: y_k = BN_k(x_k) (or x_k), then Σ w[k]·y_k; backward through both.
  std::vector<Tensor> ys, ref_mean(k_count), ref_invstd(k_count);
  for (int64_t k = 0; k < k_count; ++k) {
    if (!v.normalize[k]) {
      ys.push_back(xs[k]);
      continue;
    }
    ys.push_back(Tensor::empty(shape, DType::f64));
    ref_mean[k] = Tensor::empty({channels}, DType::f64);
    ref_invstd[k] = Tensor::empty({channels}, DType::f64);
    batch_norm_forward(xs[k], Tensor(), Tensor(), ref_means[k], ref_vars[k], ys[k], ref_mean[k],
                       ref_invstd[k], p.bn);
  }
  Tensor ref_out = Tensor::empty(shape, DType::f64);
  mixed_sum_forward(w, ys, ref_out);
  std::vector<Tensor> dys, ref_dxs;
  for (int64_t k = 0; k < k_count; ++k) dys.push_back(Tensor::empty(shape, DType::f64));
  Tensor ref_dw = Tensor::full({k_count}, 0.5, DType::f64);
  mixed_sum_backward(w, ys, dout, dys, ref_dw);
  for (int64_t k = 0; k < k_count; ++k) {
    if (!v.normalize[k]) {
      ref_dxs.push_back(dys[k]);
      continue;
    }
    ref_dxs.push_back(Tensor::empty(shape, DType::f64));
    Tensor none;
    batch_norm_backward(xs[k], Tensor(), ref_mean[k], ref_invstd[k], dys[k], ref_dxs[k], none,
                        none, p.bn);
  }

  Tensor out = Tensor::empty(shape, DType::f64);
  Tensor save_mean = Tensor::empty({k_count, channels}, DType::f64);
  Tensor save_invstd = Tensor::empty({k_count, channels}, DType::f64);
  bn_mixed_sum_forward(w, xs, fused_means, fused_vars, out, save_mean, save_invstd, p);
  std::vector<Tensor> dxs;
  for (int64_t k = 0; k < k_count; ++k) dxs.push_back(Tensor::full(shape, 99.0, DType::f64));
  Tensor dw = Tensor::full({k_count}, 0.5, DType::f64);
  bn_mixed_sum_backward(w, xs, save_mean, save_invstd, dout, dxs, dw, p, v.all_dx_modes());

  auto expect_close = [](const Tensor& got, const Tensor& want, const std::string& what) {
    const std::vector<double> g = got.to_vector<double>(), e = want.to_vector<double>();
    ASSERT_EQ(g.size(), e.size()) << what;
    for (size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], e[i], 1e-12 * (1.0 + std::abs(e[i]))) << what << " at " << i;
  };
  const std::string name = variant_name(v);
  expect_close(out, ref_out, name + " out");
  expect_close(dw, ref_dw, name + " dw");
  for (int64_t k = 0; k < k_count; ++k) {
    expect_close(dxs[k], ref_dxs[k], name + " dx" + std::to_string(k));
    if (!fused_means[k].defined()) continue;
    expect_close(fused_means[k], ref_means[k], name + " running_mean" + std::to_string(k));
    expect_close(fused_vars[k], ref_vars[k], name + " running_var" + std::to_string(k));
  }
}
}  // namespace

TEST(BnMixedSum, EqualsBatchNormOfEachCandidateThenMixedSum) {
  const std::vector<bool> darts_edge{true, true, false, true, true, true, true};
  expect_fused_equals_composition({darts_edge}, {4, 3, 5, 6});
  expect_fused_equals_composition({darts_edge, false}, {4, 3, 5, 6});
  expect_fused_equals_composition({{false, true}}, {2, 2, 1, 1});
}

// An added dx_k is the written one added with axpby (the path it replaces in autograd), bit for
// bit, in both dtypes, trained and eval; a written one is the same whatever the buffer held.
TEST(BnMixedSum, AccumulatedDxIsWrittenDxAddedWithAxpbyExactly) {
  const std::vector<bool> normalize{true, false, true, true, false};
  const std::vector<GradMode> modes{GradMode::Accumulate, GradMode::Accumulate, GradMode::Write,
                                    GradMode::Accumulate, GradMode::Write};
  const Shape shape{3, 4, 5, 6};
  const int64_t k_count = std::ssize(normalize);
  for (DType dtype : {DType::f32, DType::f64})
    for (bool training : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (training ? " training" : " eval"));
      BnMixedSumParams p;
      p.bn.training = training;
      p.normalize = normalize;
      const Tensor w = random_tensor({k_count}, dtype, 1), dout = random_tensor(shape, dtype, 2);
      std::vector<Tensor> xs, means(k_count), vars(k_count);
      for (int64_t k = 0; k < k_count; ++k) {
        xs.push_back(random_tensor(shape, dtype, 10 + k));
        if (!normalize[k]) continue;
        means[k] = random_tensor({shape[1]}, dtype, 20 + k);
        vars[k] = Tensor::full({shape[1]}, 1.5, dtype);
      }
      Tensor out = Tensor::empty(shape, dtype),
             save_mean = Tensor::empty({k_count, shape[1]}, dtype),
             save_invstd = Tensor::empty({k_count, shape[1]}, dtype);
      bn_mixed_sum_forward(w, xs, means, vars, out, save_mean, save_invstd, p);

      std::vector<Tensor> written, dxs;
      for (int64_t k = 0; k < k_count; ++k) {
        written.push_back(Tensor::full(shape, 7.0, dtype));
        dxs.push_back(random_tensor(shape, dtype, 30 + k));  // the gradient already there
      }
      dxs[3] = Tensor();  // a candidate that wants none
      std::vector<Tensor> expected;
      for (int64_t k = 0; k < k_count; ++k)
        expected.push_back(dxs[k].defined() ? dxs[k].clone() : Tensor());
      Tensor no_dw;
      bn_mixed_sum_backward(w, xs, save_mean, save_invstd, dout, written, no_dw, p,
                            std::vector<GradMode>(k_count, GradMode::Write));
      bn_mixed_sum_backward(w, xs, save_mean, save_invstd, dout, dxs, no_dw, p, modes);
      for (int64_t k = 0; k < k_count; ++k) {
        if (!dxs[k].defined()) continue;
        if (modes[k] == GradMode::Accumulate)
          axpby(1.0, written[k], 1.0, expected[k]);
        else
          expected[k] = written[k];
        expect_same_bits(dxs[k], expected[k], "candidate " + std::to_string(k) + " dx");
      }
    }
}

TEST(BnMixedSum, RejectsBadArguments) {
  const Shape s{2, 3, 2, 2};
  const Tensor w = Tensor::zeros({2});
  const std::vector<Tensor> xs = {Tensor::zeros(s), Tensor::zeros(s)};
  std::vector<Tensor> means(2), vars(2);
  Tensor out = Tensor::zeros(s), sm = Tensor::zeros({2, 3}), si = Tensor::zeros({2, 3});
  BnMixedSumParams p;
  p.normalize = {true, false};
  EXPECT_NO_THROW(bn_mixed_sum_forward(w, xs, means, vars, out, sm, si, p));
  auto forward_throws = [&](const Tensor& ww, const std::vector<Tensor>& xx, Tensor& o, Tensor& m,
                            Tensor& i, const BnMixedSumParams& pp) {
    std::vector<Tensor> rm = means, rv = vars;
    rm.resize(xx.size()), rv.resize(xx.size());
    EXPECT_THROW(bn_mixed_sum_forward(ww, xx, rm, rv, o, m, i, pp), Error);
  };
  BnMixedSumParams bad = p;
  bad.normalize = {true};
  forward_throws(w, xs, out, sm, si, bad);  // a flag per candidate
  forward_throws(Tensor::zeros({3}), xs, out, sm, si, p);
  forward_throws(w, {Tensor::zeros(s), Tensor::zeros({2, 3, 2, 3})}, out, sm, si, p);
  forward_throws(w, {Tensor::zeros({2, 3}), Tensor::zeros({2, 3})}, out, sm, si, p);  // not 4-D
  Tensor sm_wrong = Tensor::zeros({3});
  forward_throws(w, xs, out, sm_wrong, si, p);
  Tensor out_wrong = Tensor::zeros({2, 3, 2, 3});
  forward_throws(w, xs, out_wrong, sm, si, p);
  bad = p, bad.bn.training = false;  // eval needs the running statistics of candidate 0
  forward_throws(w, xs, out, sm, si, bad);
  bad = p, bad.bn.eps = 0;
  forward_throws(w, xs, out, sm, si, bad);
  Tensor x1 = Tensor::zeros({1, 3, 1, 1});  // one value per channel: no training statistics
  Tensor o1 = Tensor::zeros({1, 3, 1, 1});
  forward_throws(w, {x1, x1}, o1, sm, si, p);
  std::vector<Tensor> plain_tracked = {Tensor(), Tensor::zeros({3})}, plain_var = plain_tracked;
  EXPECT_THROW(bn_mixed_sum_forward(w, xs, plain_tracked, plain_var, out, sm, si, p), Error);
  std::vector<Tensor> half = {Tensor::zeros({3}), Tensor()};
  EXPECT_THROW(bn_mixed_sum_forward(w, xs, half, vars, out, sm, si, p), Error);  // pairs

  Tensor dout = Tensor::zeros(s), dw = Tensor::zeros({2});
  std::vector<Tensor> dxs = {Tensor::zeros(s), Tensor()};
  const std::vector<GradMode> modes{GradMode::Write, GradMode::Accumulate};
  EXPECT_NO_THROW(bn_mixed_sum_backward(w, xs, sm, si, dout, dxs, dw, p, modes));
  std::vector<Tensor> one_dx = {Tensor::zeros(s)};
  EXPECT_THROW(bn_mixed_sum_backward(w, xs, sm, si, dout, one_dx, dw, p, modes), Error);
  EXPECT_THROW(bn_mixed_sum_backward(w, xs, sm, si, dout, dxs, dw, p, {GradMode::Write}), Error);
  EXPECT_THROW(bn_mixed_sum_backward(w, xs, sm_wrong, si, dout, dxs, dw, p, modes), Error);
  EXPECT_THROW(bn_mixed_sum_backward(w, xs, sm, si, out_wrong, dxs, dw, p, modes), Error);
  Tensor dw_wrong = Tensor::zeros({3});
  EXPECT_THROW(bn_mixed_sum_backward(w, xs, sm, si, dout, dxs, dw_wrong, p, modes), Error);
  // Gradients the one kernel writes must not share memory: an added one would be added twice.
  auto backward_error = [&](std::vector<Tensor> grads) -> std::string {
    try {
      bn_mixed_sum_backward(w, xs, sm, si, dout, grads, dw, p, modes);
    } catch (const Error& e) {
      return e.message();
    }
    return "no error";
  };
  const Tensor dx0 = Tensor::zeros(s);
  EXPECT_NE(backward_error({dx0, dx0}).find("candidates 0 and 1 write dx into the same memory"),
            std::string::npos);
  EXPECT_NE(backward_error({Tensor(), dout}).find("candidate 1's dx overlaps an input"),
            std::string::npos);
  EXPECT_NE(backward_error({xs[0], Tensor()}).find("candidate 0's dx overlaps an input"),
            std::string::npos);
}

}  // namespace autonet::test
