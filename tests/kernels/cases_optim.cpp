// Rows and hand-computed checks for kernels/optim.h. The updates have no gradient: rows check
// that every output is written, guard bands, and CUDA parity; the hand-computed tests replay
// several steps against scalar float64 loops written from PyTorch's documented algorithms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/optim.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// Buffers are inputs; the forward copies them into the outputs and updates those in place, so
// repeated forwards (and CPU vs CUDA) start from the same state.
OpCase sgd_case(const std::string& variant, const SgdParams& p, const Shape& shape,
                bool dyadic) {
  OpCase c;
  c.name = "optim/sgd_" + variant + "/" + shape_str(shape);
  const bool has_buf = p.momentum != 0.0;
  c.inputs = {{"w", shape}, {"grad", shape}};
  c.outputs = {{"w_new", shape}};
  if (has_buf) {
    c.inputs.push_back({"momentum_buf", shape});
    c.outputs.push_back({"momentum_buf_new", shape});
  }
  for (InputSpec& in : c.inputs) in.differentiable = false;
  c.forward = [p, has_buf](const Tensors& in, Tensors& out) {
    out[0].copy_from(in[0]);
    Tensor buf;
    if (has_buf) {
      out[1].copy_from(in[2]);
      buf = out[1];
    }
    sgd_step(out[0], in[1], buf, p);
  };
  c.set_tolerance(1e-6, 1e-6, "a few float32 roundings per element; nvcc may fuse them into FMAs");
  c.exact_on_integers = dyadic;  // parameters that are short binary fractions: every step exact
  return c;
}

OpCase adam_case(const std::string& variant, const AdamParams& p, const Shape& shape) {
  OpCase c;
  c.name = "optim/adam_" + variant + "/" + shape_str(shape);
  c.inputs = {{"w", shape}, {"grad", shape}, {"m", shape}, {"v", shape, Fill::uniform, 0.0, 1.0}};
  for (InputSpec& in : c.inputs) in.differentiable = false;
  c.outputs = {{"w_new", shape}, {"m_new", shape}, {"v_new", shape}};
  c.forward = [p](const Tensors& in, Tensors& out) {
    out[0].copy_from(in[0]);
    out[1].copy_from(in[2]);
    out[2].copy_from(in[3]);
    adam_step(out[0], in[1], out[1], out[2], p);
  };
  c.set_tolerance(1e-6, 1e-5,
                  "sqrt and division round correctly on both sides; FMA contraction differs by an ulp");
  return c;
}

OpCase asgd_case(const std::string& variant, const AsgdParams& p, const Shape& shape,
                 bool dyadic) {
  OpCase c;
  c.name = "optim/asgd_" + variant + "/" + shape_str(shape);
  c.inputs = {{"w", shape}, {"grad", shape}, {"ax", shape}};
  for (InputSpec& in : c.inputs) in.differentiable = false;
  c.outputs = {{"w_new", shape}, {"ax_new", shape}};
  c.forward = [p](const Tensors& in, Tensors& out) {
    out[0].copy_from(in[0]);
    out[1].copy_from(in[2]);
    asgd_step(out[0], in[1], out[1], p);
  };
  c.set_tolerance(1e-6, 1e-6, "a few float32 roundings per element; nvcc may fuse them into FMAs");
  c.exact_on_integers = dyadic;
  return c;
}

// DARTS' weight optimizer (reference §2): lr 0.025, momentum 0.9, weight decay 3e-4.
SgdParams darts_sgd() {
  SgdParams p;
  p.lr = 0.025, p.momentum = 0.9, p.weight_decay = 3e-4;
  return p;
}
}  // namespace

std::vector<OpCase> optim_cases() {
  std::vector<OpCase> rows;
  const Shape big{1000003};  // about the DARTS search network's 1.9M weights / 2, prime length
  SgdParams plain;
  plain.lr = 0.25;
  for (const Shape& s : {Shape{1}, Shape{257}}) rows.push_back(sgd_case("plain", plain, s, true));
  SgdParams first;
  first.lr = 0.25, first.momentum = 0.5, first.weight_decay = 0.125, first.first_step = true;
  rows.push_back(sgd_case("first_step", first, {7, 13}, true));
  SgdParams damp;
  damp.lr = 0.5, damp.momentum = 0.5, damp.dampening = 0.25;
  rows.push_back(sgd_case("dampening", damp, {7, 13}, true));
  SgdParams nesterov;
  nesterov.lr = 0.25, nesterov.momentum = 0.5, nesterov.weight_decay = 0.25, nesterov.nesterov = true;
  rows.push_back(sgd_case("nesterov", nesterov, {1}, true));
  rows.push_back(sgd_case("nesterov", nesterov, {257}, true));
  rows.push_back(sgd_case("darts", darts_sgd(), big, false));

  // DARTS' α optimizer (reference §2): lr 3e-4, betas (0.5, 0.999), weight decay 1e-3, on the
  // 14 × 8 α of one cell type.
  AdamParams arch;
  arch.lr = 3e-4, arch.beta1 = 0.5, arch.beta2 = 0.999, arch.weight_decay = 1e-3;
  rows.push_back(adam_case("arch_step1", arch, {14, 8}));
  arch.step = 7;
  rows.push_back(adam_case("arch_step7", arch, {14, 8}));
  AdamParams dflt;
  dflt.step = 3;
  rows.push_back(adam_case("default", dflt, {1}));
  rows.push_back(adam_case("default", dflt, big));

  AsgdParams rnn;  // DARTS' RNN: t0 = 0, lambd = 0, averaging from the start
  rnn.eta = 20.0, rnn.mu = 1.0, rnn.weight_decay = 8e-7;
  rows.push_back(asgd_case("rnn", rnn, {257}, false));
  AsgdParams averaging;
  averaging.eta = 0.25, averaging.lambd = 0.5, averaging.mu = 0.25, averaging.weight_decay = 0.125;
  rows.push_back(asgd_case("averaging", averaging, {1}, true));
  rows.push_back(asgd_case("averaging", averaging, {7, 13}, true));
  rows.push_back(asgd_case("averaging", averaging, big, true));
  return rows;
}

namespace {
// Gradient of a made-up loss at step t, element i: deterministic and varied in sign and size.
double grad_at(int t, size_t i) { return std::sin(1.3 * t + 0.7 * static_cast<double>(i)) * 0.8; }

const std::vector<double> kStartWeights = {0.5, -1.25, 2.0, 0.0, -0.375};

void expect_all_near(const std::vector<double>& actual, const std::vector<double>& expected,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-13 * (1.0 + std::abs(expected[i])))
        << what << " [" << i << "]";
}

// torch.optim.SGD.step for one parameter tensor, as its documentation writes it.
struct ReferenceSgd {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  std::vector<double> w, buf;
  bool has_buf = false;
  void step(int t) {
    std::vector<double> d_p(w.size());
    for (size_t i = 0; i < w.size(); ++i) d_p[i] = grad_at(t, i) + weight_decay * w[i];
    if (momentum != 0.0) {
      if (!has_buf) {
        buf = d_p;
        has_buf = true;
      } else {
        for (size_t i = 0; i < w.size(); ++i)
          buf[i] = momentum * buf[i] + (1.0 - dampening) * d_p[i];
      }
      for (size_t i = 0; i < w.size(); ++i) d_p[i] = nesterov ? d_p[i] + momentum * buf[i] : buf[i];
    }
    for (size_t i = 0; i < w.size(); ++i) w[i] -= lr * d_p[i];
  }
};

Tensor grad_tensor(int t, size_t n) {
  std::vector<double> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = grad_at(t, i);
  return Tensor::from_vector(g, {static_cast<int64_t>(n)});
}

void check_sgd_against_reference(SgdParams p, const std::string& what) {
  ReferenceSgd ref{p.lr, p.momentum, p.dampening, p.weight_decay, p.nesterov, kStartWeights, {}};
  const int64_t n = static_cast<int64_t>(kStartWeights.size());
  Tensor w = Tensor::from_vector(kStartWeights, {n});
  Tensor buf = Tensor::full({n}, 123.0, DType::f64);  // whatever it holds: first_step ignores it
  for (int t = 1; t <= 4; ++t) {
    p.first_step = t == 1;
    sgd_step(w, grad_tensor(t, kStartWeights.size()), buf, p);
    ref.step(t);
    expect_all_near(w.to_vector<double>(), ref.w, what + " w after step " + std::to_string(t));
    if (p.momentum != 0.0)
      expect_all_near(buf.to_vector<double>(), ref.buf, what + " buf after step " + std::to_string(t));
  }
}
}  // namespace

TEST(Optim, SgdByHand) {
  // w = 1, g = 0.5, lr 0.1, momentum 0.9. Step 1: buf = 0.5, w = 1 − 0.05 = 0.95.
  // Step 2 (g = 0.5 again): buf = 0.9·0.5 + 0.5 = 0.95, w = 0.95 − 0.095 = 0.855.
  Tensor w = Tensor::full({1}, 1.0, DType::f64), g = Tensor::full({1}, 0.5, DType::f64);
  Tensor buf = Tensor::zeros({1}, DType::f64);
  SgdParams p;
  p.lr = 0.1, p.momentum = 0.9, p.first_step = true;
  sgd_step(w, g, buf, p);
  EXPECT_NEAR(w.item(), 0.95, 1e-15);
  EXPECT_NEAR(buf.item(), 0.5, 1e-15);
  p.first_step = false;
  sgd_step(w, g, buf, p);
  EXPECT_NEAR(w.item(), 0.855, 1e-15);
  EXPECT_NEAR(buf.item(), 0.95, 1e-15);
  // Plain SGD with weight decay needs no buffer: w = 0.855 − 0.1·(0.5 + 0.5·0.855) = 0.76225.
  SgdParams plain;
  plain.lr = 0.1, plain.weight_decay = 0.5;
  Tensor none;
  sgd_step(w, g, none, plain);
  EXPECT_NEAR(w.item(), 0.76225, 1e-15);
}

TEST(Optim, SgdMatchesPyTorchAlgorithmOverSeveralSteps) {
  SgdParams p;
  p.lr = 0.1, p.momentum = 0.9, p.weight_decay = 0.01;
  check_sgd_against_reference(p, "momentum + weight decay");
  p.dampening = 0.3;
  check_sgd_against_reference(p, "dampening");
  p.dampening = 0.0, p.nesterov = true;
  check_sgd_against_reference(p, "nesterov");
  SgdParams plain;
  plain.lr = 0.05, plain.weight_decay = 0.2;
  check_sgd_against_reference(plain, "no momentum");
}

TEST(Optim, AdamByHandAtStepOne) {
  // Step 1 with wd = 0: m = (1 − β1)·g, v = (1 − β2)·g², so m̂ = g and √v̂ = |g|:
  // w −= lr · g / (|g| + eps) ≈ lr · sign(g).
  Tensor w = Tensor::from_vector<double>({1.0, 1.0}, {2});
  Tensor g = Tensor::from_vector<double>({0.5, -4.0}, {2});
  Tensor m = Tensor::zeros({2}, DType::f64), v = Tensor::zeros({2}, DType::f64);
  AdamParams p;
  p.lr = 0.01, p.eps = 1e-8;
  adam_step(w, g, m, v, p);
  EXPECT_NEAR(w.to_vector<double>()[0], 1.0 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(w.to_vector<double>()[1], 1.0 + 0.01 * 4.0 / (4.0 + 1e-8), 1e-15);
  EXPECT_NEAR(m.to_vector<double>()[1], -0.4, 1e-15);
  EXPECT_NEAR(v.to_vector<double>()[1], 0.001 * 16.0, 1e-15);
}

TEST(Optim, AdamMatchesPyTorchAlgorithmAtStepsOneToThree) {
  const double lr = 3e-3, beta1 = 0.5, beta2 = 0.999, eps = 1e-8, wd = 1e-2;
  std::vector<double> w = kStartWeights, m(w.size(), 0.0), v(w.size(), 0.0);
  const int64_t n = static_cast<int64_t>(w.size());
  Tensor tw = Tensor::from_vector(w, {n});
  Tensor tm = Tensor::zeros({n}, DType::f64), tv = Tensor::zeros({n}, DType::f64);
  for (int t = 1; t <= 3; ++t) {
    for (size_t i = 0; i < w.size(); ++i) {
      const double g = grad_at(t, i) + wd * w[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(beta1, t));
      const double v_hat = v[i] / (1 - std::pow(beta2, t));
      w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    AdamParams p;
    p.lr = lr, p.beta1 = beta1, p.beta2 = beta2, p.eps = eps, p.weight_decay = wd, p.step = t;
    adam_step(tw, grad_tensor(t, w.size()), tm, tv, p);
    expect_all_near(tw.to_vector<double>(), w, "adam w after step " + std::to_string(t));
    expect_all_near(tm.to_vector<double>(), m, "adam m after step " + std::to_string(t));
    expect_all_near(tv.to_vector<double>(), v, "adam v after step " + std::to_string(t));
  }
}

TEST(Optim, AsgdMatchesPyTorchAlgorithmWithAveraging) {
  // torch.optim.ASGD: eta and mu start at lr and 1, and after step t become
  // lr / (1 + λ·lr·t)^α and 1 / max(1, t − t0); the step uses the values from before it.
  const double lr = 0.1, lambd = 0.05, alpha = 0.75, t0 = 1.0, wd = 0.02;
  std::vector<double> w = kStartWeights, ax = kStartWeights;
  const int64_t n = static_cast<int64_t>(w.size());
  Tensor tw = Tensor::from_vector(w, {n}), tax = Tensor::from_vector(ax, {n});
  double eta = lr, mu = 1.0;
  bool averaged = false;
  for (int t = 1; t <= 5; ++t) {
    for (size_t i = 0; i < w.size(); ++i) {
      const double g = grad_at(t, i) + wd * w[i];
      w[i] *= 1.0 - lambd * eta;
      w[i] -= eta * g;
      ax[i] = mu != 1.0 ? ax[i] + mu * (w[i] - ax[i]) : w[i];
    }
    AsgdParams p;
    p.eta = eta, p.lambd = lambd, p.mu = mu, p.weight_decay = wd;
    asgd_step(tw, grad_tensor(t, w.size()), tax, p);
    averaged = averaged || mu < 1.0;
    expect_all_near(tw.to_vector<double>(), w, "asgd w after step " + std::to_string(t));
    expect_all_near(tax.to_vector<double>(), ax, "asgd ax after step " + std::to_string(t));
    eta = lr / std::pow(1.0 + lambd * lr * t, alpha);
    mu = 1.0 / std::max(1.0, t - t0);
  }
  EXPECT_TRUE(averaged) << "the schedule never reached mu < 1";
  // ax must now differ from w: it averages the later iterates.
  EXPECT_GT(std::abs(tax.to_vector<double>()[0] - tw.to_vector<double>()[0]), 1e-6);
}

TEST(Optim, Float32FollowsFloat64) {
  SgdParams p = darts_sgd();
  p.first_step = true;
  Tensor w64 = Tensor::from_vector(kStartWeights, {5}), b64 = Tensor::zeros({5}, DType::f64);
  Tensor w32 = w64.to(DType::f32), b32 = b64.to(DType::f32);
  const Tensor g64 = grad_tensor(1, 5);
  sgd_step(w64, g64, b64, p);
  sgd_step(w32, g64.to(DType::f32), b32, p);
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(w32.to_vector<float>()[i], w64.to_vector<double>()[i], 1e-6);
}

TEST(Optim, RejectsBadArguments) {
  Tensor w = Tensor::zeros({4}), g = Tensor::zeros({4}), b = Tensor::zeros({4});
  Tensor short_g = Tensor::zeros({3}), g64 = Tensor::zeros({4}, DType::f64);
  Tensor wi = Tensor::zeros({4}, DType::i32), none;
  Tensor strided = Tensor::zeros({8}).slice(0, 0, 8, 2);
  SgdParams sgd;
  sgd.momentum = 0.9;
  EXPECT_THROW(sgd_step(w, short_g, b, sgd), Error);
  EXPECT_THROW(sgd_step(w, g64, b, sgd), Error);
  EXPECT_THROW(sgd_step(wi, g, b, sgd), Error);
  EXPECT_THROW(sgd_step(strided, g, b, sgd), Error);
  EXPECT_THROW(sgd_step(w, g, none, sgd), Error);  // momentum needs its buffer
  EXPECT_THROW(sgd_step(w, g, short_g, sgd), Error);
  EXPECT_THROW(sgd_step(none, g, b, sgd), Error);
  SgdParams bad = sgd;
  bad.lr = -1;
  EXPECT_THROW(sgd_step(w, g, b, bad), Error);
  bad = sgd, bad.momentum = -0.5;
  EXPECT_THROW(sgd_step(w, g, b, bad), Error);
  bad = sgd, bad.weight_decay = -1e-4;
  EXPECT_THROW(sgd_step(w, g, b, bad), Error);
  bad = sgd, bad.nesterov = true, bad.dampening = 0.1;
  EXPECT_THROW(sgd_step(w, g, b, bad), Error);
  bad = SgdParams{}, bad.nesterov = true;  // nesterov without momentum
  EXPECT_THROW(sgd_step(w, g, b, bad), Error);

  Tensor m = Tensor::zeros({4}), v = Tensor::zeros({4});
  AdamParams adam;
  EXPECT_THROW(adam_step(w, g, m, short_g, adam), Error);
  EXPECT_THROW(adam_step(w, g, g64, v, adam), Error);
  EXPECT_THROW(adam_step(w, strided, m, v, adam), Error);
  AdamParams bad_adam = adam;
  bad_adam.step = 0;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);
  bad_adam = adam, bad_adam.beta1 = 1.0;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);
  bad_adam = adam, bad_adam.beta2 = -0.1;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);
  bad_adam = adam, bad_adam.eps = -1e-8;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);
  bad_adam = adam, bad_adam.lr = -1e-3;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);
  bad_adam = adam, bad_adam.weight_decay = -1.0;
  EXPECT_THROW(adam_step(w, g, m, v, bad_adam), Error);

  Tensor ax = Tensor::zeros({4});
  AsgdParams asgd;
  EXPECT_THROW(asgd_step(w, g, none, asgd), Error);
  EXPECT_THROW(asgd_step(w, g, short_g, asgd), Error);
  EXPECT_THROW(asgd_step(w, g64, ax, asgd), Error);
  AsgdParams bad_asgd = asgd;
  bad_asgd.mu = 0.0;
  EXPECT_THROW(asgd_step(w, g, ax, bad_asgd), Error);
  bad_asgd = asgd, bad_asgd.mu = 1.5;
  EXPECT_THROW(asgd_step(w, g, ax, bad_asgd), Error);
  bad_asgd = asgd, bad_asgd.eta = -0.1;
  EXPECT_THROW(asgd_step(w, g, ax, bad_asgd), Error);
  bad_asgd = asgd, bad_asgd.lambd = -0.1;
  EXPECT_THROW(asgd_step(w, g, ax, bad_asgd), Error);
  bad_asgd = asgd, bad_asgd.weight_decay = -0.1;
  EXPECT_THROW(asgd_step(w, g, ax, bad_asgd), Error);
}

}  // namespace autonet::test
