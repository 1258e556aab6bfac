// Sample planes staged for a depthwise weight gradient (cluster_sums.cuh): a block going
// through its (sample, position) elements round by round stages the padded input planes a
// round meets in shared memory, each value as a tap reads it (depthwise_input: through the
// folded BN and ReLU, zero in the padding). Host and device code: DepthwiseTaps.* checks the
// staged values and the room on the CPU.
#pragma once
#include <algorithm>
#include <cstddef>

#include "kernels/depthwise_conv2d_math.h"

namespace autonet::cuda {

// Where a weight-gradient block stages the sample planes it reads: shared memory `offset`
// elements past the taps' sums, room for `planes` padded input planes (of the launch's largest
// filter). planes = 0: x is read through the cache.
struct PlaneStaging {
  int offset = 0, planes = 0;
};

// The padded input plane the outputs of geometry g read: rows and columns from −pad up to the
// last output's last tap.
AN_HOST_DEVICE int staged_plane_rows(const DepthwiseGeometry& g) {
  return (g.Ho - 1) * g.stride + (g.R - 1) * g.dilation + 1;
}
AN_HOST_DEVICE int staged_plane_cols(const DepthwiseGeometry& g) {
  return (g.Wo - 1) * g.stride + (g.S - 1) * g.dilation + 1;
}

// The staging of a weight-gradient launch whose filters have at most max_taps taps, planes of
// at most `cells` padded values and `plane_out` outputs, in blocks of `threads` that sum
// `taps_per_pass` taps a pass; shared_bytes grows by its room. None where the room would pass
// the default 48 KiB a block: block_sums' warp sums (cluster_sums.cuh, `taps_per_pass` values a
// warp) are static shared memory of the same block, and the launch may not ask for more dynamic
// memory than 48 KiB less them.
inline PlaneStaging plane_staging(int max_taps, int taps_per_pass, int cells, int plane_out,
                                  int threads, size_t elem_bytes, size_t& shared_bytes) {
  PlaneStaging st;
  st.offset = max_taps;
  // A round of `threads` consecutive (sample, position) elements meets at most this many planes.
  st.planes = (threads - 1) / std::max(plane_out, 1) + 2;
  const size_t bytes = size_t(st.planes) * cells * elem_bytes;
  const size_t warp_sums = size_t(taps_per_pass) * (threads / 32) * elem_bytes;
  if (warp_sums + shared_bytes + bytes > 48 * 1024) return PlaneStaging{};
  shared_bytes += bytes;
  return st;
}

// Cell `at` of the padded plane of geometry g staged from plane xp: row h holds input row
// h − pad_h, so tap (r, s) of output (oh, ow) reads cell (oh·stride + r·dilation,
// ow·stride + s·dilation), the value depthwise_input gives for it.
template <class T>
AN_HOST_DEVICE T staged_plane_value(const T* __restrict__ xp, const DepthwiseGeometry& g, int at,
                                    PlaneNorm<T> norm = {}) {
  const int cols = staged_plane_cols(g), h = at / cols;
  return depthwise_input(xp, g, h - g.pad_h, at - h * cols - g.pad_w, norm);
}

}  // namespace autonet::cuda
