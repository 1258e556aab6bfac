// The geometry of a conv2d, shared by the CPU loops and the CUDA kernels.
//
// im2col lays one sample x [C, H, W] out as col [C·R·S, Ho·Wo]: row (c, r, s), column (oh, ow)
// holds x[c, oh·sh − ph + r·dh, ow·sw − pw + s·dw] (0 in the padding). The convolution is then
// y [K, Ho·Wo] = weight [K, C·R·S] · col.
#pragma once
#include <algorithm>

#include "kernels/conv2d.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

struct Conv2dGeometry {
  int64_t N, C, H, W;  // x [N, C, H, W]
  int64_t K, R, S;     // weight [K, C, R, S]
  int64_t Ho, Wo;      // y [N, K, Ho, Wo]
  int64_t sh, sw, ph, pw, dh, dw;

  AN_HOST_DEVICE int64_t rows() const { return C * R * S; }  // im2col rows
  AN_HOST_DEVICE int64_t pixels() const { return Ho * Wo; }  // im2col columns per sample
  // A 1×1 stride-1 unpadded conv reads x [C, H·W] as its own im2col matrix.
  AN_HOST_DEVICE bool pointwise() const {
    return R == 1 && S == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
  }
};

// Host only: the shapes were validated by the public entry.
// The CUDA twin works through the batch in chunks of samples whose workspaces ([max(C·R·S, K),
// B·Ho·Wo]) stay under 16 MiB of float32: every DARTS conv of this family (stem, 1×1s) fits one
// chunk, and a chunk's GEMM stays at least 2^22 / (C·R·S) columns wide, plenty to fill the GPU.
constexpr int64_t kConvWorkspaceElements = int64_t(1) << 22;

inline int64_t conv2d_chunk_samples(const Conv2dGeometry& g) {
  const int64_t per_sample = std::max(g.rows(), g.K) * g.pixels();
  return std::clamp<int64_t>(kConvWorkspaceElements / std::max<int64_t>(per_sample, 1), 1,
                             std::max<int64_t>(g.N, 1));
}

inline Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dParams& p) {
  const Shape y = conv2d_out_shape(x, w, p);
  return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3],
          p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w};
}

}  // namespace autonet
