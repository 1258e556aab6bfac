// Integer division by a convolution's or pool's stride, as the gather kernels' inner loops need it
// (per tap, per covering window): the DARTS strides 1 and 2 as a copy and a shift, since a
// division by a runtime int costs a GPU about twenty instructions. Results are the division's.
#pragma once
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// t / stride for t ≥ 0.
AN_HOST_DEVICE int divide_by_stride(int t, int stride) {
  return stride == 1 ? t : stride == 2 ? t >> 1 : t / stride;
}

// ⌊t / stride⌋ for any t (a tile's first output rows may lie above the plane).
AN_HOST_DEVICE int floor_divide_by_stride(int t, int stride) {
  if (stride == 1) return t;
  if (stride == 2) return t >> 1;  // an arithmetic shift floors negatives too
  return t >= 0 ? t / stride : -((-t + stride - 1) / stride);
}

// t / stride where stride divides t ≥ 0, else −1: which output's tap lands on an input t places
// past the output's first tap.
AN_HOST_DEVICE int exact_stride_quotient(int t, int stride) {
  if (t < 0) return -1;
  if (stride == 1) return t;
  if (stride == 2) return (t & 1) ? -1 : t >> 1;
  return t % stride == 0 ? t / stride : -1;
}

}  // namespace autonet
