// Scalar formulas of the softmax family shared by the CPU loops and the CUDA kernels. Row sums
// (Σ exp, Σ dy·y, Σ log p) are carried in double on both twins.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/elementwise_math.h"  // exp_value
#include "kernels/softmax.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// With m the row maximum and sum_exp = Σ_c exp(x_c − m):
template <class T>
AN_HOST_DEVICE T softmax_value(T x, T m, double sum_exp) {
  return static_cast<T>(static_cast<double>(exp_value(x - m)) / sum_exp);
}
template <class T>
AN_HOST_DEVICE T log_softmax_value(T x, T m, double log_sum_exp) {
  return static_cast<T>(static_cast<double>(x - m) - log_sum_exp);
}

// dx from the saved output y, with dot = Σ_c dy_c·y_c (softmax) or Σ_c dy_c (log-softmax).
template <class T>
AN_HOST_DEVICE T softmax_grad(T y, T dy, double dot) {
  return static_cast<T>(static_cast<double>(y) * (static_cast<double>(dy) - dot));
}
template <class T>
AN_HOST_DEVICE T log_softmax_grad(T y, T dy, double dot) {
  return static_cast<T>(static_cast<double>(dy) - static_cast<double>(exp_value(y)) * dot);
}

// One row's smoothed cross-entropy: −(1−ε)·logp[t] − ε/C·Σ_c logp[c].
AN_HOST_DEVICE double cross_entropy_row_loss(double log_prob_target, double sum_log_probs,
                                             int64_t classes, double smoothing) {
  return -(1.0 - smoothing) * log_prob_target - smoothing / classes * sum_log_probs;
}

// d loss / d logit = scale · (softmax − ((1−ε)·[c = t] + ε/C)), scale = dloss / N.
template <class T>
AN_HOST_DEVICE T cross_entropy_grad(T log_prob, bool is_target, double scale, int64_t classes,
                                    double smoothing) {
  const double target = (is_target ? 1.0 - smoothing : 0.0) + smoothing / classes;
  return static_cast<T>(scale * (static_cast<double>(exp_value(log_prob)) - target));
}

}  // namespace autonet
