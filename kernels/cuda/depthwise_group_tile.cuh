// The depthwise group on staged tiles (depthwise_group.cu), with the stencil group's tiling
// (stencil_tile.cuh, stencil_tile_grad.cuh): a block works on one member's tile (blocks
// member-major). Forward stages the member's region of x as its taps read it — through the
// folded BN and ReLU, zero in the padding — so each tap is one multiply-add; dx stages the
// region of dy its inputs gather from. The same sums as the per-position gathers
// (depthwise_taps.cuh: depthwise_output, depthwise_input_grad), which stay for groups the tiles
// cannot take.
//
// Host and device code: a CPU test (StencilTile.DepthwiseGroup*) runs the blocks on the host.
#pragma once
#include "kernels/cuda/stencil_tile_grad.cuh"

namespace autonet::cuda {

// Channel c's folded BN (mean null: none).
template <class T>
AN_HOST_DEVICE PlaneNorm<T> channel_norm(const T* mean, const T* invstd, int c) {
  return mean ? PlaneNorm<T>{true, mean[c], invstd[c]} : PlaneNorm<T>{};
}

// Element e of a forward block's staged region: x there as the taps read it
// (depthwise_value: normalised, clamped), zero outside the image.
template <class T>
AN_HOST_DEVICE T staged_tap_input(const T* __restrict__ x, const DepthwiseGeometry& g,
                                  const T* mean, const T* invstd, const StencilTiling& t,
                                  const TileBlock& b, int e) {
  const StagedCell cell = staged_cell(t, b, e);
  if (!cell.inside) return T(0);
  const T v = read_only(x + (cell.plane * t.H + cell.ih) * t.W + cell.iw);
  return depthwise_value(v, g, channel_norm(mean, invstd, static_cast<int>(cell.plane % t.C)));
}

// Element e of a dx block's staged region: dy there, zero outside the output.
template <class T>
AN_HOST_DEVICE T staged_output_grad(const T* __restrict__ dy, const StencilGradTiling& t,
                                    const GradBlock& b, int e) {
  const StagedOutput s = staged_output(t, b, e);
  if (!s.inside) return T(0);
  return read_only(dy + ((b.plane0 + s.pl) * t.Ho + s.oh) * t.Wo + s.ow);
}

}  // namespace autonet::cuda
