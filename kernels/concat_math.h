// Geometry of concat/split shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/concat.h"

namespace autonet {

// The CUDA twin moves up to this many parts per launch (a DARTS cell's 4 node outputs: one).
constexpr int kConcatPartsPerLaunch = 8;

// Contiguous tensors viewed as [outer, axis_k, inner] around the concatenation axis.
struct ConcatGeometry {
  int64_t outer = 1, inner = 1;
  int64_t total_axis = 0;             // y's size along the axis
  std::vector<int64_t> axis_sizes;    // per part
  std::vector<int64_t> axis_offsets;  // where each part starts along y's axis
};

inline ConcatGeometry concat_geometry(const Shape& y_shape, const std::vector<Tensor>& parts,
                                      int64_t axis) {
  ConcatGeometry g;
  for (int64_t d = 0; d < static_cast<int64_t>(y_shape.size()); ++d) {
    if (d < axis) g.outer *= y_shape[d];
    if (d > axis) g.inner *= y_shape[d];
  }
  g.total_axis = y_shape[axis];
  // An undefined part (a gradient nobody wants) covers what the defined parts leave over.
  int64_t defined_total = 0;
  for (const Tensor& t : parts) defined_total += t.defined() ? t.size(axis) : 0;
  int64_t offset = 0;
  for (const Tensor& t : parts) {
    const int64_t size = t.defined() ? t.size(axis) : g.total_axis - defined_total;
    g.axis_sizes.push_back(size);
    g.axis_offsets.push_back(offset);
    offset += size;
  }
  return g;
}

}  // namespace autonet
