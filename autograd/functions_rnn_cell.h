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

}  // namespace autonet
