// Shapes and small formulas of the reduction family shared by the CPU loops and the CUDA kernels.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/reduce.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// x viewed as [outer, axis, inner] around the reduced axis.
struct ReduceGeometry {
  int64_t outer = 1, axis = 1, inner = 1;
};

inline ReduceGeometry reduce_geometry(const Shape& shape, int64_t axis) {
  ReduceGeometry g;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) g.outer *= shape[d];
    if (d == axis) g.axis = shape[d];
    if (d > axis) g.inner *= shape[d];
  }
  return g;
}

// torch.nn.utils.clip_grad_norm_'s factor from Σx²; callers scale only when it is < 1, so a NaN
// norm leaves the gradient as it is.
AN_HOST_DEVICE double clip_factor(double sum_sq, double max_norm) {
  return max_norm / (sqrt(sum_sq) + 1e-6);
}

// clip_coefficient's value (reduce.h) from the norm.
AN_HOST_DEVICE double clip_coefficient_of(double norm, double max_norm) {
  return max_norm / (norm + 1e-6);
}

// central_difference_scales' three values (reduce.h) from Σv².
struct CentralDifference {
  double norm, radius, inverse_width;  // ‖v‖, R = step / ‖v‖, 1 / (2R)
};
AN_HOST_DEVICE CentralDifference central_difference(double sum_sq, double step) {
  const double norm = sqrt(sum_sq);
  if (norm == 0) return {0, 0, 0};
  const double radius = step / norm;
  return {norm, radius, 1.0 / (2.0 * radius)};
}

// Index along the axis of the first maximum of x[o, :, i] (strictly greater replaces).
template <class T>
AN_HOST_DEVICE int64_t first_argmax(const T* x, int64_t axis, int64_t inner) {
  int64_t best = 0;
  for (int64_t a = 1; a < axis; ++a)
    if (x[a * inner] > x[best * inner]) best = a;
  return best;
}

// Fixed chunking of sum_of_squares on the CPU: the result does not depend on the thread count.
constexpr int64_t kSumOfSquaresChunks = 64;

}  // namespace autonet
