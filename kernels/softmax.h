// Softmax and log-softmax over the last axis of [rows, cols], and the classification losses:
// cross-entropy on logits (optionally label-smoothed) and NLL on log-probabilities, both averaged
// over the batch as in PyTorch's defaults.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

AN_KERNEL_ENTRIES(
// y = softmax(x) (log: log_softmax(x)) along the last axis; x viewed as [rows, cols].
void softmax_forward(const Tensor& x, Tensor& y, bool log = false);
// dx written, from the saved output y, or added into (old + it, rounded as writing it and
// adding it with axpby) when dx_mode is Accumulate.
void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, bool log = false,
                      GradMode dx_mode = GradMode::Write);

// logits [N, C], targets [N] i64 in [0, C). loss [1] = mean_i[−(1−ε)·logp[i, t_i] − ε/C·Σ_c logp[i, c]].
// log_probs [N, C] is saved for backward. A target out of range is an error (on the GPU the
// loss becomes NaN, which the trainers' non-finite-loss check reports).
void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& loss,
                           Tensor& log_probs, double label_smoothing = 0.0);
// dlogits written: dloss · (softmax − smoothed one-hot) / N.
void cross_entropy_backward(const Tensor& log_probs, const Tensor& targets, const Tensor& dloss,
                            Tensor& dlogits, double label_smoothing = 0.0);
// loss [1] = −mean_i log_probs[i, t_i]; dlog_probs written.
void nll_forward(const Tensor& log_probs, const Tensor& targets, Tensor& loss);
void nll_backward(const Tensor& targets, const Tensor& dloss, Tensor& dlog_probs);
)

}  // namespace autonet
