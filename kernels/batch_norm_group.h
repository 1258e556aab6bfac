// Several affine-free batch norms as one op: member k normalises its own input xs[k] with its own
// running statistics, all inputs of one shape [N, C, H, W] or [N, C]. A DARTS search cell's sep
// convs each put a BN (no weight, no bias) between their first 1×1 conv and their second depthwise
// conv; run across all the sep convs leaving one state, that is one statistics kernel and one
// normalisation kernel for the whole state instead of two per BN, and the same backward.
//
// Member k's results are exactly batch_norm_forward / batch_norm_backward (kernels/batch_norm.h)
// of xs[k] with weight and bias undefined: training and eval, momentum and eps, running
// statistics updated in training when defined (undefined: untracked), and p.backward_from_output
// (backward given the forward's outputs, which are x̂, instead of its inputs).
#pragma once
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/channel_moments.h"
#include "kernels/dispatch.h"
#include "kernels/group_limits.h"

namespace autonet {

AN_KERNEL_ENTRIES(
// xs: K inputs of one shape (1 ≤ K ≤ kMaxGroupMembers); ys[k] like xs[k], or undefined: member
// k's statistics only, for a consumer that normalises as it reads (depthwise_group's norms;
// no y at all: no normalize kernel). running_means[k] / running_vars[k] [C]: member k's running
// statistics, updated in training (both undefined: untracked; eval needs them). save_means[k] /
// save_invstds[k] [C]: the statistics member k normalised with, which backward reads.
// moments: empty, or per member xs[k]'s moment parts (kernels/channel_moments.h, as its producer
// formed them; undefined: none): training merges them for the batch statistics instead of
// reading x (the same statistics up to rounding in double).
void batch_norm_group_forward(const std::vector<Tensor>& xs, std::vector<Tensor>& running_means,
                              std::vector<Tensor>& running_vars, std::vector<Tensor>& ys,
                              std::vector<Tensor>& save_means, std::vector<Tensor>& save_invstds,
                              const BatchNormParams& p, const std::vector<Tensor>& moments = {});
// dxs[k] written (undefined: member k skipped, and its dys[k] may be undefined too). With
// p.backward_from_output, xs holds the forward's outputs. grad_sums: empty, or per member the
// gradient-sum parts of dys[k] against x̂ (kernels/channel_moments.h, as the kernel writing dys[k]
// formed them; undefined: none): training adds them for Σdy and Σdy·x̂ instead of reading dy and
// x (the same sums, bit for bit on the CPU).
void batch_norm_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& save_means,
                               const std::vector<Tensor>& save_invstds,
                               const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                               const BatchNormParams& p,
                               const std::vector<Tensor>& grad_sums = {});
)

}  // namespace autonet
