// The DARTS search mixed op's last step as one fused op: each candidate's closing affine-free
// batch norm and the α-weighted sum, out = Σ_k w[k]·v_k, where v_k = (x_k − mean_k)·invstd_k per
// channel for a candidate that is normalised (x_k is its BN's input) and v_k = x_k for one that
// is not (skip_connect). One statistics kernel serves every normalised candidate and one kernel
// applies all the BNs and sums; no v_k is ever written. Backward: one kernel forms every
// candidate's per-channel Σdout and Σdout·v_k, one writes or adds every dx_k (and folds dw).
//
// Gradients, with dy_k = w[k]·dout the gradient a separate BN would have received:
//   dw[k] = <dout, v_k>                                                       (accumulates)
//   dx_k  = w[k]·invstd_k·(dout − mean(dout) − v_k·mean(dout·v_k))  normalised, training
//   dx_k  = w[k]·invstd_k·dout                                      normalised, eval
//   dx_k  = w[k]·dout                                               not normalised
// (means per channel over N·H·W), which is batch_norm_backward of dy_k, so the fused op equals
// batch_norm_forward of each candidate followed by mixed_sum_forward, up to rounding. Each dx_k
// is written, or added into the gradient already there (GradMode::Accumulate: old + dx_k rounded
// once, what writing it apart and adding it with axpby gives, bit for bit on the CPU).
#pragma once
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/channel_moments.h"
#include "kernels/dispatch.h"
#include "kernels/mixed_sum.h"  // check_mixed_inputs

namespace autonet {

// A DARTS node's candidates, all its edges' summed as one op: 5 edges × 7 candidates at most in
// the default search space (4 nodes), with room for a fifth node.
constexpr int kMaxFoldedCandidates = 48;

struct BnMixedSumParams {
  BatchNormParams bn;          // shared by the candidates' BNs; backward_from_output unused
  std::vector<bool> normalize;  // [K]: candidate k passes through its BN
};

AN_KERNEL_ENTRIES(
// weights [K] and K same-shape candidates x_k [N, C, H, W] (1 ≤ K ≤ kMaxFoldedCandidates), out like
// x_0. running_means[k] / running_vars[k] [C]: candidate k's BN running statistics, updated in
// training (both undefined: untracked, or not normalised; eval needs them for every normalised
// candidate). save_mean / save_invstd [K, C]: the statistics each BN normalised with (0 and 1 in a
// row of a candidate not normalised), which backward reads. moments: empty, or per candidate
// its moment parts as its producer formed them (kernels/channel_moments.h; undefined: none): a
// normalised candidate's training statistics then merge them instead of reading x_k.
void bn_mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& xs,
                          std::vector<Tensor>& running_means, std::vector<Tensor>& running_vars,
                          Tensor& out, Tensor& save_mean, Tensor& save_invstd,
                          const BnMixedSumParams& p, const std::vector<Tensor>& moments = {});
// dxs[k] written or added per dx_modes[k] (undefined: skipped; defined ones share no memory with
// each other or the inputs); dweights [K] accumulates (undefined: skipped).
void bn_mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& xs,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout,
                           std::vector<Tensor>& dxs, Tensor& dweights, const BnMixedSumParams& p,
                           const std::vector<GradMode>& dx_modes);
)

}  // namespace autonet
