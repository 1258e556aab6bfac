// Embedding lookup: out[..., :] = weight[ids[...], :], and its scatter-add gradient.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

AN_KERNEL_ENTRIES(
// weight [V, D], ids i64 of any shape S with values in [0, V), out [S..., D]. An id out of range
// is an error on the CPU; on the GPU the row is filled with NaN so it cannot pass unnoticed.
void embedding_forward(const Tensor& weight, const Tensor& ids, Tensor& out);
// dweight [V, D] accumulates Σ over positions with that id of dout.
void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dweight);
)

}  // namespace autonet
