// Finite-difference checks through the tape: the gradients backward() leaves in the inputs'
// grads must match central differences of the same forward function, in float64.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace autonet::test {

// A float64 CPU leaf filled from Philox, uniform in [low, high).
inline Variable leaf(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0,
                     bool requires_grad = true) {
  Tensor t = Tensor::empty(shape, DType::f64);
  fill_uniform(t, low, high, seed);
  return Variable(t, requires_grad);
}

// L = Σ seed ⊙ f(): a fixed random weighting turns any output into a scalar without needing a
// reduction kernel, and exercises non-uniform upstream gradients.
inline double weighted_sum(const Tensor& y, const Tensor& seed) {
  const std::vector<double> a = y.to_vector<double>(), b = seed.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks d/d(inputs) of Σ seed ⊙ f() by central differences on at most `probes` entries of each
// input (evenly spread; 0 = all). f must be deterministic (dropout: a fixed key).
inline void expect_gradients_match(const std::function<Variable()>& f,
                                   const std::vector<Variable>& inputs, double tol = 1e-6,
                                   int probes = 0, double eps = 1e-6) {
  for (Variable v : inputs) v.clear_grad();
  Variable y = f();
  Tensor seed = Tensor::empty(y.shape(), DType::f64);
  fill_uniform(seed, 0.5, 1.5, 4242);
  backward(y, y.numel() == 1 ? Tensor() : seed);
  if (y.numel() == 1) seed.fill_(1.0);

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Variable& v = inputs[k];
    ASSERT_TRUE(v.grad().defined()) << "input " << k << " received no gradient";
    const std::vector<double> analytic = v.grad().to_vector<double>();
    double* x = v.value().data<double>();
    const int64_t n = v.numel();
    const int64_t step = probes > 0 && n > probes ? n / probes : 1;
    for (int64_t i = 0; i < n; i += step) {
      const double saved = x[i];
      double plus, minus;
      {
        NoGradGuard guard;
        x[i] = saved + eps;
        plus = weighted_sum(f().value(), seed);
        x[i] = saved - eps;
        minus = weighted_sum(f().value(), seed);
      }
      x[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic[i], numeric, tol * (1 + std::abs(numeric)))
          << "input " << k << " element " << i;
    }
  }
}

}  // namespace autonet::test
