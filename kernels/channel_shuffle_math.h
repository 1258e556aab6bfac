// Channel arithmetic of channel_shuffle, shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cstdint>

#include "runtime/philox.h"  // AN_HOST_DEVICE
#include "runtime/tensor.h"

namespace autonet {

struct ShuffleGeometry {
  int64_t batch, channels, head_channels, groups, plane;  // plane = H·W
};

// y [N, C, H, W]; an undefined head or tail (a gradient nobody wants) has the channels the other
// leaves over.
inline ShuffleGeometry shuffle_geometry(const Tensor& y, const Tensor& head, const Tensor& tail,
                                        int64_t groups) {
  const int64_t channels = y.size(1);
  const int64_t head_channels = head.defined() ? head.size(1) : channels - tail.size(1);
  return {y.size(0), channels, head_channels, groups, y.size(2) * y.size(3)};
}

// The channel of concat(head, tail) that lands on output channel `out` = j·groups + i: channel
// i·(channels/groups) + j.
AN_HOST_DEVICE int64_t shuffle_source(const ShuffleGeometry& g, int64_t out) {
  return (out % g.groups) * (g.channels / g.groups) + out / g.groups;
}

}  // namespace autonet
