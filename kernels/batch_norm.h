// Batch normalisation over [N, C, H, W] (2d) or [N, C] (1d), PyTorch semantics: training uses the
// batch statistics (biased variance to normalise, unbiased variance into the running average:
// running ← (1 − momentum)·running + momentum·batch), eval uses the running statistics.
// affine = false: weight and bias are undefined tensors (DARTS' search-network BNs).
#pragma once
#include "kernels/dispatch.h"
#include "runtime/op_profile.h"
#include "runtime/tensor.h"

namespace autonet {

struct BatchNormParams {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
  // Backward only, affine-free BNs: `x` holds the forward's output y, which is x̂ itself (bit for
  // bit: y = x̂·1 + 0), so the autograd layer keeps y — which the next op keeps anyway — instead
  // of the input. In a DARTS search cell that frees one activation per BN (8 per mixed edge).
  bool backward_from_output = false;
};

// eps > 0 and momentum in [0, 1], else an error naming `what` (shared by the BN families' entries).
void check_batch_norm_params(const BatchNormParams& p, const char* what);

// What batch_norm_forward / batch_norm_backward launch and move on these arguments (the step
// profile's counts, runtime/op_profile.h), for ops that run them inside their own.
OpCost batch_norm_forward_cost(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                               const BatchNormParams& p);
OpCost batch_norm_backward_cost(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                                const Tensor& save_invstd, const Tensor& dy, const Tensor& dx,
                                const Tensor& dweight, const Tensor& dbias,
                                const BatchNormParams& p);

// Channels of at most this many values (N·H·W; the recurrent cells' [batch, nhid] BNs) run each
// pass as one launch on a GPU: a block per channel forms the statistics (or the gradient sums)
// and then writes the channel's outputs (or dx), its reads of the channel cached. Wider channels
// keep a statistics kernel and an elementwise kernel, which fills the card.
constexpr int64_t kOneLaunchChannelValues = 2048;
inline bool batch_norm_in_one_launch(const Tensor& x) {
  const int64_t per_channel = x.numel() / x.size(1);
  return per_channel > 0 && per_channel <= kOneLaunchChannelValues;
}

AN_KERNEL_ENTRIES(
// y = (x − mean)·invstd·weight + bias per channel. Writes save_mean/save_invstd [C] (the batch's
// in training, the running ones in eval) for backward. In training, updates running_mean/var [C]
// in place when they are defined.
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p);
// dx written (through the batch statistics in training); dweight, dbias accumulate; undefined
// gradients are skipped. With p.backward_from_output, x is the forward's output (affine-free
// only).
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p);
)

}  // namespace autonet
