// The α step (reference darts.md §3.4, §3.5) on a tiny float64 search network: the second-order
// gradient against central finite differences of the unrolled validation loss, the virtual step
// against the real SGD step (check #18), first order against a plain backward.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "darts/cnn/architect.h"
#include "kernels/elementwise.h"
#include "tests/darts/central_differences.h"

namespace autonet::darts {
namespace {

struct Tiny {
  ParameterStore weights{11, DType::f64}, alphas{12, DType::f64};
  SearchNetwork net;
  Tensor xt, yt, xv, yv;  // train and validation batches: 2 images of 1×8×8, 3 classes

  Tiny() : net(config(), weights, alphas) {
    xt = Tensor::empty({2, 1, 8, 8}, DType::f64);
    xv = Tensor::empty({2, 1, 8, 8}, DType::f64);
    fill_uniform(xt, -1, 1, 21);
    fill_uniform(xv, -1, 1, 22);
    yt = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
    yv = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
    // α far from uniform, so the softmax has curvature in every direction.
    Tensor a = alphas.weights();
    fill_uniform(a, -1, 1, 23);
  }
  static SearchConfig config() {
    SearchConfig c;
    c.channels = 2;
    c.layers = 3;
    c.nodes = 2;
    c.multiplier = 2;
    c.stem_multiplier = 2;
    c.classes = 3;
    c.input_channels = 1;
    return c;
  }
  double loss(const Tensor& x, const Tensor& y) {
    return cross_entropy(net.forward(Variable(x)), y).value().item();
  }
};

std::vector<double> host(const Tensor& t) { return t.to_vector<double>(); }

// ∂/∂α of L_val(w′(α), α), w′ = w − ξ·(μ·buf + ∇w L_train(w, α) + λ·w), by central differences.
std::vector<double> unrolled_fd(Tiny& t, const Sgd& sgd, const std::vector<int64_t>& probes,
                                double eps) {
  Tensor a = t.alphas.weights();
  Tensor w = t.weights.weights();
  const Tensor w0 = w.clone();
  auto unrolled_loss = [&]() {
    t.weights.zero_grad();
    {
      ParameterGradScope no_alpha(t.alphas, false);
      backward(cross_entropy(t.net.forward(Variable(t.xt)), t.yt));
    }
    apply_virtual_step(sgd, t.weights.grads(), w);
    double l;
    {
      NoGradGuard no_grad;
      l = t.loss(t.xv, t.yv);
    }
    w.copy_from(w0);
    return l;
  };
  return test::central_differences(a, probes, eps, unrolled_loss);
}

TEST(Architect, VirtualStepEqualsTheRealSgdStep) {
  Tiny t;
  SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 3e-4;
  Sgd sgd(t.weights.weights(), t.weights.grads(), o);
  for (int step = 0; step < 2; ++step) {  // the first step has no buffer, the second has one
    t.weights.zero_grad();
    backward(cross_entropy(t.net.forward(Variable(t.xt)), t.yt));
    Tensor predicted = t.weights.weights().clone();
    apply_virtual_step(sgd, t.weights.grads(), predicted);
    sgd.step();
    const std::vector<double> a = host(predicted), b = host(t.weights.weights());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-14) << "step " << step;
  }
}

TEST(Architect, FirstOrderIsTheValidationGradient) {
  Tiny t;
  Sgd sgd(t.weights.weights(), t.weights.grads(), SgdOptions{});
  Architect arch(t.net, sgd, ArchitectConfig{});
  const Tensor w0 = t.weights.weights().clone();
  arch.compute_gradient(t.xt, t.yt, t.xv, t.yv);
  const std::vector<double> got = host(t.alphas.grads());
  t.alphas.zero_grad();
  backward(cross_entropy(t.net.forward(Variable(t.xv)), t.yv));
  const std::vector<double> want = host(t.alphas.grads());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_DOUBLE_EQ(got[i], want[i]) << i;
  EXPECT_EQ(host(t.weights.weights()), host(w0));
}

// The second-order α gradient against finite differences of the unrolled loss, with momentum and
// weight decay in the virtual step (after one real SGD step, so the momentum buffer exists).
TEST(Architect, SecondOrderMatchesFiniteDifferencesOfTheUnrolledLoss) {
  Tiny t;
  SgdOptions o;
  o.lr = 0.1;  // ξ: large, so the Hessian term is a sizeable part of the gradient
  o.momentum = 0.9;
  o.weight_decay = 3e-4;
  Sgd sgd(t.weights.weights(), t.weights.grads(), o);
  t.weights.zero_grad();
  backward(cross_entropy(t.net.forward(Variable(t.xt)), t.yt));
  sgd.step();

  ArchitectConfig config;
  config.unrolled = true;
  // The official ‖R·v‖ = 0.01 crosses ReLU and max-pool kinks of this tiny network (measured:
  // errors of 0.5 against a gradient scale of 0.3, already 0.5 at 1e-3), so the difference
  // quotient would test the kinks, not the formula. At 1e-5 no kink is crossed for these inputs.
  config.hessian_step = 1e-5;
  Architect arch(t.net, sgd, config);
  const Tensor w0 = t.weights.weights().clone();
  arch.compute_gradient(t.xt, t.yt, t.xv, t.yv);
  const std::vector<double> analytic = host(t.alphas.grads());
  EXPECT_EQ(host(t.weights.weights()), host(w0)) << "w must be restored exactly";

  // ∇α L_val(w′, α) alone (the gradient without its Hessian term).
  std::vector<double> without_hessian;
  {
    Tensor w = t.weights.weights();
    t.weights.zero_grad();
    backward(cross_entropy(t.net.forward(Variable(t.xt)), t.yt));
    apply_virtual_step(sgd, t.weights.grads(), w);
    t.alphas.zero_grad();
    backward(cross_entropy(t.net.forward(Variable(t.xv)), t.yv));
    without_hessian = host(t.alphas.grads());
    w.copy_from(w0);
  }

  std::vector<int64_t> probes;
  for (int64_t i = 0; i < t.alphas.num_parameters(); i += 3) probes.push_back(i);
  const std::vector<double> fd = unrolled_fd(t, sgd, probes, 1e-5);

  double scale = 0, err = 0, err_first = 0;
  for (size_t k = 0; k < probes.size(); ++k) {
    scale = std::max(scale, std::abs(fd[k]));
    err = std::max(err, std::abs(analytic[probes[k]] - fd[k]));
    err_first = std::max(err_first, std::abs(without_hessian[probes[k]] - fd[k]));
  }
  // The only approximation left is the Hessian-vector product's central difference along v:
  // O((R·‖v‖)²) = O(1e-10) times third derivatives, with f64 rounding of the difference quotient
  // ~1e-16/1e-5; the α finite differences (eps 1e-5) are exact to ~1e-10. Measured error: ~4e-6
  // of the gradient's scale. 1e-4 of the scale covers that and stays far below the size of the
  // Hessian term (checked next), so a wrong sign or scale of that term fails.
  const double tol = 1e-4 * scale;
  EXPECT_LT(err, tol) << "second-order α gradient vs finite differences (scale " << scale << ")";
  EXPECT_GT(err_first, 20 * tol) << "the Hessian term is too small to test anything";
}

TEST(Architect, ParameterGradScopeRestoresRequiresGrad) {
  Tiny t;
  {
    ParameterGradScope off(t.weights, false);
    for (const auto& [name, v] : t.weights.named_parameters()) ASSERT_FALSE(v.requires_grad());
  }
  for (const auto& [name, v] : t.weights.named_parameters()) ASSERT_TRUE(v.requires_grad());
}

}  // namespace
}  // namespace autonet::darts
