// Per-element update rules of the optimizers, shared by the CPU loops and the CUDA kernels so the
// two twins apply the same operations in the same order (PyTorch's order, see optim.h).
#pragma once
#include <cmath>

#include "kernels/optim.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// SgdParams in the buffers' precision, converted once on the host.
template <class T>
struct SgdScalars {
  T lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov, first_step;
};

template <class T>
SgdScalars<T> sgd_scalars(const SgdParams& p) {
  return {T(p.lr), T(p.momentum), T(1.0 - p.dampening), T(p.weight_decay), p.nesterov,
          p.first_step};
}

// One element of torch.optim.SGD.step. `buf` is untouched (and may be null) when momentum = 0.
template <class T>
AN_HOST_DEVICE void sgd_update(const SgdScalars<T>& s, T& w, T grad, T* buf) {
  T g = s.weight_decay != T(0) ? grad + s.weight_decay * w : grad;
  if (s.momentum != T(0)) {
    const T b = s.first_step ? g : s.momentum * *buf + s.one_minus_dampening * g;
    *buf = b;
    g = s.nesterov ? g + s.momentum * b : b;
  }
  w = w - s.lr * g;
}

// AdamParams with the bias corrections of step t folded in on the host (in double).
template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  T step_size;              // lr / (1 − β1^t)
  T bias_correction2_sqrt;  // sqrt(1 − β2^t)
};

template <class T>
AdamScalars<T> adam_scalars(const AdamParams& p) {
  const double t = static_cast<double>(p.step);
  const double bc1 = 1.0 - std::pow(p.beta1, t), bc2 = 1.0 - std::pow(p.beta2, t);
  return {T(p.beta1),  T(1.0 - p.beta1),   T(p.beta2),         T(1.0 - p.beta2),
          T(p.eps),    T(p.weight_decay), T(p.lr / bc1),      T(std::sqrt(bc2))};
}

// One element of torch.optim.Adam.step (amsgrad off): the denominator is sqrt(v)/sqrt(bc2) + eps.
template <class T>
AN_HOST_DEVICE void adam_update(const AdamScalars<T>& s, T& w, T grad, T& m, T& v) {
  const T g = s.weight_decay != T(0) ? grad + s.weight_decay * w : grad;
  m = s.beta1 * m + s.one_minus_beta1 * g;
  v = s.beta2 * v + s.one_minus_beta2 * g * g;
  const T denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
  w = w - s.step_size * (m / denom);
}

template <class T>
struct AsgdScalars {
  T eta, decay, mu, weight_decay;  // decay = 1 − λ·η
  bool average_is_copy;            // mu = 1: ax = w exactly
};

template <class T>
AsgdScalars<T> asgd_scalars(const AsgdParams& p) {
  return {T(p.eta), T(1.0 - p.lambd * p.eta), T(p.mu), T(p.weight_decay), p.mu == 1.0};
}

// One element of torch.optim.ASGD.step.
template <class T>
AN_HOST_DEVICE void asgd_update(const AsgdScalars<T>& s, T& w, T grad, T& ax) {
  const T g = s.weight_decay != T(0) ? grad + s.weight_decay * w : grad;
  w = w * s.decay;
  w = w - s.eta * g;
  ax = s.average_is_copy ? w : ax + (w - ax) * s.mu;
}

}  // namespace autonet
