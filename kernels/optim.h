// Fused optimizer updates over flat parameter buffers (one kernel per step for the whole model),
// with PyTorch's semantics. Grad-norm clipping is in reduce.h (it is a reduction and a scale).
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

// torch.optim.SGD: g = grad + wd·w; buf = momentum·buf + (1 − dampening)·g (buf = g on the first
// step); w −= lr·(nesterov ? g + momentum·buf : buf). momentum = 0 ignores buf. The options are
// also the Sgd optimizer's (autograd/optimizer.h); a step adds what only the step knows.
struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool nesterov = false;
};
struct SgdParams : SgdOptions {
  bool first_step = false;  // initialise buf with g
};

// torch.optim.Adam (L2 form, not AdamW): g = grad + wd·w; m = β1·m + (1 − β1)·g;
// v = β2·v + (1 − β2)·g²; w −= lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps), t = step ≥ 1.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2: added to the gradient
};
struct AdamParams : AdamOptions {
  int64_t step = 1;
};

// torch.optim.ASGD: g = grad + wd·w; w ·= (1 − lambd·eta); w −= eta·g; ax += mu·(w − ax) (ax = w
// when mu = 1). The caller computes eta and mu from the step count (lr / (1 + lambd·lr·t)^alpha and
// 1 / max(1, t − t0)); DARTS' RNN uses t0 = 0, lambd = 0.
struct AsgdParams {
  double eta = 0.01;
  double lambd = 0.0;
  double mu = 1.0;
  double weight_decay = 0.0;
};

// All buffers flat (any shape, same numel), contiguous, same dtype and device. Updated in place.
AN_KERNEL_ENTRIES(
void sgd_step(Tensor& w, const Tensor& grad, Tensor& momentum_buf, const SgdParams& p);
void adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamParams& p);
void asgd_step(Tensor& w, const Tensor& grad, Tensor& ax, const AsgdParams& p);
)

}  // namespace autonet
