// Differentiable wrappers of the recurrent DARTS cell's fused node step (kernels/rnn_cell.h).
#pragma once
#include "autograd/variable.h"
#include "kernels/rnn_cell.h"

namespace autonet {

// Derived node (and the first state s₀ with tanh): ch [B, 2H], s [B, H] →
// s + σ(ch[:, :H])·(act(ch[:, H:]) − s)   [B, H].
Variable rnn_node(const Variable& ch, const Variable& s, RnnActivation act);

// Search node: ch [J, B, 2H], s [J, B, H], w [J, 4] (softmax(α) rows without `none`) →
// Σ_j Σ_k w[j, k]·(s[j] + σ(c_j)·(f_k(h_j) − s[j]))   [B, H].
Variable rnn_mix(const Variable& ch, const Variable& s, const Variable& w);
// The search node and the cell's affine-free batch norm after it, as one node:
// batch_norm(rnn_mix(ch, s, w)) with the BN's running statistics and parameters
// (kernels/rnn_cell.h: one launch forward on a GPU); backward the two ops' own kernels.
Variable rnn_mix_batch_norm(const Variable& ch, const Variable& s, const Variable& w,
                            Tensor running_mean, Tensor running_var, const BatchNormParams& p);

}  // namespace autonet
