// Dropout from Philox: element i is kept when philox_uniform(key, mask_index(i)) >= p and scaled by
// 1/(1 − p). The mask is recomputed in backward from the same key, so nothing is stored, and the
// CPU and CUDA twins draw identical masks.
//
// mask_period > 0 reuses one mask across a leading axis: mask_index(i) = i mod mask_period. For a
// time-major [T, B, D] tensor, period B·D gives locked (variational) dropout: the same units are
// dropped at every time step, as in DARTS' RNN.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace autonet {

struct DropoutParams {
  double p = 0.0;  // drop probability in [0, 1)
  PhiloxKey key;
  int64_t mask_period = 0;  // 0: an independent draw per element
};

AN_KERNEL_ENTRIES(
void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p);
// dx written: dy · mask / (1 − p); or, when dx_mode is Accumulate, that added into dx (old + it,
// rounded as writing it and adding it with axpby).
void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p,
                      GradMode dx_mode = GradMode::Write);
)

}  // namespace autonet
