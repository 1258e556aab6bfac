// The CUDA group kernels' per-position depthwise arithmetic (kernels/cuda/depthwise_taps.cuh,
// host and device code) run on the host against the CPU twin of depthwise_conv2d: every output
// and every input gradient, at the DARTS filters' geometries (3×3 and 5×5, dilated, stride 1 and
// 2, with and without the folded ReLU), on planes with interior and border positions, so both
// the unchecked interior taps and the checked border ones are compared.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/depthwise_taps.cuh"
#include "kernels/cuda/plane_staging.cuh"
#include "kernels/depthwise_conv2d.h"
#include "tests/kernels/group_checks.h"

namespace autonet::test {
namespace {

struct TapCase {
  int64_t size, stride, pad, dilation;
  bool relu;
};

std::string describe(const TapCase& t) {
  return std::to_string(t.size) + "x" + std::to_string(t.size) + " stride " +
         std::to_string(t.stride) + " pad " + std::to_string(t.pad) + " dilation " +
         std::to_string(t.dilation) + (t.relu ? " relu" : "");
}

TEST(DepthwiseTaps, MatchTheCpuTwinOutputsAndInputGradients) {
  const std::vector<TapCase> cases{{3, 1, 1, 1, false}, {5, 1, 2, 1, true},  {3, 1, 2, 2, false},
                                   {5, 1, 4, 2, true},  {3, 2, 1, 1, false}, {5, 2, 2, 1, true},
                                   {7, 1, 3, 1, false}};
  for (const TapCase& t : cases) {
    SCOPED_TRACE(describe(t));
    const DepthwiseConv2dParams p{t.stride, t.pad, t.pad, t.dilation, t.relu};
    const Tensor x = random_tensor({2, 3, 11, 9}, DType::f32, 40);
    const Tensor w = random_tensor({3, 1, t.size, t.size}, DType::f32, 41);
    const Shape out = depthwise_conv2d_out_shape(x.shape(), w.shape(), p);
    Tensor y = Tensor::empty(out), dx = Tensor::empty(x.shape()), no_dw;
    const Tensor dy = random_tensor(out, DType::f32, 42);
    depthwise_conv2d_forward(x, w, y, p);
    depthwise_conv2d_backward(x, w, dy, dx, no_dw, p);
    const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), out, p);
    const float *px = x.data<float>(), *pw = w.data<float>(), *pdy = dy.data<float>();
    for (int64_t plane = 0; plane < 2 * 3; ++plane) {
      const int c = static_cast<int>(plane % 3);
      const float* wp = pw + c * g.R * g.S;
      const float* xp = px + plane * g.H * g.W;
      for (int oh = 0; oh < g.Ho; ++oh)
        for (int ow = 0; ow < g.Wo; ++ow) {
          const float expected = y.data<float>()[(plane * g.Ho + oh) * g.Wo + ow];
          ASSERT_NEAR(cuda::depthwise_output(g, wp, xp, oh, ow), expected,
                      1e-5f * (1 + std::abs(expected)))
              << "output (" << oh << ", " << ow << ") of plane " << plane;
        }
      for (int ih = 0; ih < g.H; ++ih)
        for (int iw = 0; iw < g.W; ++iw) {
          const float expected = dx.data<float>()[(plane * g.H + ih) * g.W + iw];
          ASSERT_NEAR(cuda::depthwise_input_grad(g, wp, xp, pdy + plane * g.Ho * g.Wo, ih, iw),
                      expected, 1e-5f * (1 + std::abs(expected)))
              << "input (" << ih << ", " << iw << ") of plane " << plane;
        }
    }
  }
}

// The weight gradient's staged plane (kernels/cuda/plane_staging.cuh) holds at each tap's cell
// what depthwise_input reads there, through a folded BN and ReLU, at the DARTS geometries.
TEST(DepthwiseTaps, StagedPlaneHoldsWhatEachTapReads) {
  const std::vector<TapCase> cases{{3, 1, 1, 1, true}, {5, 1, 2, 1, true}, {3, 1, 2, 2, false},
                                   {5, 1, 4, 2, true}, {3, 2, 1, 1, true}, {5, 2, 2, 1, false},
                                   {7, 1, 3, 1, true}};
  for (const TapCase& t : cases) {
    SCOPED_TRACE(describe(t));
    const DepthwiseConv2dParams p{t.stride, t.pad, t.pad, t.dilation, t.relu};
    const Tensor x = random_tensor({1, 1, 11, 9}, DType::f32, 50);
    const Shape w{1, 1, t.size, t.size};
    const DepthwiseGeometry g =
        depthwise_geometry(x.shape(), w, depthwise_conv2d_out_shape(x.shape(), w, p), p);
    const PlaneNorm<float> norm{true, 0.25f, 1.5f};
    const int rows = cuda::staged_plane_rows(g), cols = cuda::staged_plane_cols(g);
    std::vector<float> plane(rows * cols);
    for (int at = 0; at < rows * cols; ++at)
      plane[at] = cuda::staged_plane_value(x.data<float>(), g, at, norm);
    for (int oh = 0; oh < g.Ho; ++oh)
      for (int ow = 0; ow < g.Wo; ++ow)
        for (int r = 0; r < g.R; ++r)
          for (int s = 0; s < g.S; ++s) {
            const int h = oh * g.stride + r * g.dilation, c = ow * g.stride + s * g.dilation;
            ASSERT_LT(h, rows);
            ASSERT_LT(c, cols);
            ASSERT_EQ(plane[h * cols + c],
                      depthwise_input(x.data<float>(), g, h - g.pad_h, c - g.pad_w, norm))
                << "output (" << oh << ", " << ow << ") tap (" << r << ", " << s << ")";
          }
  }
}

// A round of `threads` consecutive (sample, position) elements never meets more planes than the
// staging has room for.
TEST(DepthwiseTaps, StagingRoomCoversEveryRound) {
  for (int plane_out : {1, 5, 49, 64, 100, 256, 1024, 1300})
    for (int64_t samples : {1, 3, 8, 9}) {
      size_t bytes = 0;
      const cuda::PlaneStaging st = cuda::plane_staging(25, 25, 1, plane_out, 256, 4, bytes);
      ASSERT_GT(st.planes, 0);
      const int64_t count = samples * plane_out;
      for (int64_t round = 0; round < count; round += 256) {
        const int64_t first = round / plane_out;
        const int64_t last = std::min<int64_t>(round + 255, count - 1) / plane_out;
        EXPECT_LE(last - first + 1, st.planes) << plane_out << " outputs a plane, round " << round;
      }
    }
  size_t bytes = 25 * 4;  // a plane too large for the room: no staging, nothing added
  EXPECT_EQ(cuda::plane_staging(25, 25, 20000, 1024, 256, 4, bytes).planes, 0);
  EXPECT_EQ(bytes, 25u * 4);
}

// The room a launch asks for and block_sums' static warp sums (25 taps × 8 warps) fit the
// default 48 KiB a block together, at every plane size of a 5×5 filter in float and double: at
// 74×74 in float the room alone (48,772 bytes) would fit, with the warp sums not.
TEST(DepthwiseTaps, StagingLeavesRoomForTheWarpSums) {
  for (size_t elem : {size_t{4}, size_t{8}})
    for (int side = 1; side <= 120; ++side) {
      const int cells = (side + 4) * (side + 4), plane_out = side * side;
      size_t bytes = 25 * elem;
      const cuda::PlaneStaging st = cuda::plane_staging(25, 25, cells, plane_out, 256, elem, bytes);
      const size_t warp_sums = 25 * 8 * elem;
      if (st.planes > 0) EXPECT_LE(bytes + warp_sums, 48u * 1024) << side << "×" << side;
      else EXPECT_EQ(bytes, 25 * elem) << side << "×" << side;
    }
  size_t bytes = 25 * 4;
  EXPECT_EQ(cuda::plane_staging(25, 25, 78 * 78, 74 * 74, 256, 4, bytes).planes, 0);
  bytes = 25 * 4;
  EXPECT_GT(cuda::plane_staging(25, 25, 76 * 76, 72 * 72, 256, 4, bytes).planes, 0);
}
}  // namespace
}  // namespace autonet::test
