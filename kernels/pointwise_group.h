// Several 1×1 convolutions (stride 1, no padding, no bias), each on its own input with its own
// weight, as one op: y_k = w_k · x_k per pixel, x_k [N, C, H, W], w_k [Co, C, 1, 1],
// y_k [N, Co, H, W], every member of one shape. A DARTS search cell's sep/dil convs close each
// stage with such a convolution; all edges leaving one state run theirs as one group: one
// forward kernel, one kernel for every dx and one for every dw, where one conv2d each would
// launch 1 and 3.
//
// Member k's results and rounding are those of conv2d on its own (kernels/conv2d.h, the
// pointwise path): y_k = conv2d(x_k, w_k), dw_k += its weight gradient, and dx_k written or
// added per its GradMode; an added dx_k is old + (conv2d's dx) once rounded.
//
// `relu_input` folds a ReLU before every member's convolution into the loads (a search cell's
// ReLU → 1×1 conv → BN preprocessing): y_k = w_k · relu(x_k), dw_k from relu(x_k), and dx_k the
// gradient through the ReLU, (w_kᵀ · dy_k)·relu'(x_k) as relu's own backward forms it
// (elementwise_math.h), so the group equals relu then conv2d bit for bit on the CPU.
//
// `moments` asks forward for each output's per-channel moments in parts
// (kernels/channel_moments.h), formed from the values as they are written: the batch norm after
// a 1×1 conv (every one in a DARTS search cell) then needs no pass over its input for its
// statistics.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/channel_moments.h"
#include "kernels/dispatch.h"
#include "kernels/group_limits.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// How the CUDA twin splits a member's weight-gradient sum over samples × pixels: into `slices()`
// blocks per dw tile, each summing a run of (sample, slice of kPointwiseDwSlice pixels) units,
// `ranks` blocks to a thread block cluster (added through distributed shared memory) and
// `clusters` clusters per tile; with more than one, a second kernel adds the clusters' partial
// tiles in order. Enough blocks to fill the GPU at the DARTS shapes (a sum of 65,536 products per
// weight at batch 64, 32×32), few enough that each sums a few thousand. Shapes alone decide it,
// so a CPU build counts what a GPU launches.
constexpr int64_t kPointwiseDwSlice = 512;      // pixels per unit of a block's share
constexpr int64_t kPointwiseDwMaxSlices = 64;   // blocks per dw tile
constexpr int64_t kPointwiseDwCluster = 8;      // blocks per cluster: the portable cluster size
struct PointwiseWeightGradSplit {
  int64_t per_sample, units, ranks, clusters;  // units: samples × per_sample slices of pixels
  AN_HOST_DEVICE int64_t slices() const { return ranks * clusters; }
};
inline PointwiseWeightGradSplit pointwise_weight_grad_split(int64_t samples, int64_t pixels) {
  const int64_t per_sample = (pixels + kPointwiseDwSlice - 1) / kPointwiseDwSlice;
  const int64_t slices = std::clamp<int64_t>(samples * per_sample, 1, kPointwiseDwMaxSlices);
  const int64_t ranks = std::min(slices, kPointwiseDwCluster);
  return {per_sample, samples * per_sample, ranks, (slices + ranks - 1) / ranks};
}

AN_KERNEL_ENTRIES(
// xs[k] [N, C, H, W], ws[k] [Co, C, 1, 1], ys[k] [N, Co, H, W]: one shape each for all k;
// 1 ≤ K ≤ kMaxGroupMembers. moments: empty, or per member float64 [moment_parts(y), Co, 3] that
// forward fills with y_k's moment parts (undefined: none for that member).
void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys, bool relu_input,
                             const std::vector<Tensor>& moments = {});
// dxs[k] written or added per dx_modes[k] (undefined: skipped); dws[k] accumulate (undefined:
// skipped); dys[k] undefined: member k receives no gradient (its dx, if defined and Write, is
// zero-filled; nothing added in Accumulate).
void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes,
                              bool relu_input);
)

}  // namespace autonet
