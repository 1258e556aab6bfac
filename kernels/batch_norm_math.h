// Scalar formulas of batch normalisation, shared by the CPU loops and the CUDA kernels so the two
// twins round the same way.
#pragma once
#include <cmath>

#include "kernels/batch_norm.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// x̂ = (x − mean)·invstd.
template <class T>
AN_HOST_DEVICE T bn_xhat(T x, T mean, T invstd) {
  return (x - mean) * invstd;
}

// y = x̂·w + b (w = 1, b = 0 without affine parameters).
template <class T>
AN_HOST_DEVICE T bn_output(T x, T mean, T invstd, T w, T b) {
  return bn_xhat(x, mean, invstd) * w + b;
}

// x̂ from what backward was given: the input x, or (BatchNormParams::backward_from_output) the
// output of an affine-free BN, which is x̂.
template <class T>
AN_HOST_DEVICE T bn_saved_xhat(T saved, T mean, T invstd, bool saved_is_xhat) {
  return saved_is_xhat ? saved : bn_xhat(saved, mean, invstd);
}

// dx in training, through the batch statistics:
// dx = invstd·w·(dy − mean(dy) − x̂·mean(dy·x̂)).
template <class T>
AN_HOST_DEVICE T bn_input_grad_train(T dy, T xhat, T invstd, T w, T mean_dy, T mean_dy_xhat) {
  return invstd * w * (dy - mean_dy - xhat * mean_dy_xhat);
}

// dx in eval: the statistics are constants.
template <class T>
AN_HOST_DEVICE T bn_input_grad_eval(T dy, T invstd, T w) {
  return dy * w * invstd;
}

// running ← (1 − momentum)·running + momentum·batch, in double like the rest of the per-channel
// statistics.
AN_HOST_DEVICE double bn_running_update(double running, double batch, double momentum) {
  return (1.0 - momentum) * running + momentum * batch;
}

AN_HOST_DEVICE double bn_invstd(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

}  // namespace autonet
