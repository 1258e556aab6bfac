// Dropout from Philox: element i is kept when philox_uniform(key, mask_index(i)) >= p and scaled by
// 1/(1 − p). The mask is recomputed in backward from the same key, so nothing is stored, and the
// CPU and CUDA twins draw identical masks.
//
// mask_period > 0 reuses one mask across a leading axis: mask_index(i) = i mod mask_period. For a
// time-major [T, B, D] tensor, period B·D gives locked (variational) dropout: the same units are
// dropped at every time step, as in DARTS' RNN.
//
// The recurrent search cell's node reads its predecessors' states twice: stacked, and stacked
// under the locked dropout (its GEMM's input). `stack_dropout` forms both in one pass each way,
// exactly concat_forward then dropout_forward, and backward their gradients' sum into each state
// (dropout_backward added into the stack's gradient, then concat_backward). autograd/state_stack.h
// writes each state's row of a step's stacks once with it, the nodes reading views of them.
#pragma once
#include <vector>

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
// xs: 1 ≤ J ≤ kMaxStackParts parts [1, S...] of one shape; y and y_dropped [J, S...]: y their
// concatenation along axis 0, y_dropped = dropout(y).
void stack_dropout_forward(const std::vector<Tensor>& xs, Tensor& y, Tensor& y_dropped,
                           const DropoutParams& p);
// dxs[j] (like xs[j]) written or added per dx_modes[j] (undefined: skipped) with part j of
// dy + dropout_backward(dy_dropped), either of which may be undefined (no such term).
void stack_dropout_backward(const Tensor& dy, const Tensor& dy_dropped, std::vector<Tensor>& dxs,
                            const std::vector<GradMode>& dx_modes, const DropoutParams& p);
)

// A recurrent search cell's nodes (8 in DARTS) and its initial state, with room to spare.
constexpr int kMaxStackParts = 16;

}  // namespace autonet
