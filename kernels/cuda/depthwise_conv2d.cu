// CUDA twin of depthwise_conv2d.
//
// Forward and input gradient are tiled: a block owns a TH×TW tile of the result in `planes`
// consecutive (n, c) planes, stages the source region the tile reads (with its halo, zero padding
// and the folded ReLU applied once) and the planes' filters in shared memory, and every thread
// then computes outputs from shared memory. Global traffic is one coalesced read of each source
// element (plus the halo) and one coalesced write of each result.
//
// The weight gradient is a reduction over N·Ho·Wo per (c, r, s), done deterministically in one
// launch: a thread block cluster (sm_90) per channel, each block reducing a chunk of the batch in
// registers and shared memory; block 0 of the cluster then adds the blocks' sums in rank order,
// reading them through distributed shared memory, into dw. No atomics, no partial buffer.
#include <algorithm>
#include <type_traits>

#include "kernels/cuda/cluster_sums.cuh"
#include "kernels/depthwise_conv2d_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kOutputsPerBlock = 512;          // two results per thread
constexpr size_t kMaxSharedBytes = 48 * 1024;  // the default per-block limit, no opt-in needed
constexpr int kWeightGradCluster = 8;  // blocks per channel for dw: the portable cluster size

// How a result of height×width per plane is cut into blocks, and the source region per tile.
struct Tiling {
  int th, tw;  // result tile
  int planes;  // consecutive (n, c) planes per block
  int sh, sw;  // source region staged in shared memory
  int tiles_h, tiles_w;
  int64_t plane_groups;
  size_t shared_bytes;
  int64_t blocks() const { return int64_t(tiles_h) * tiles_w * plane_groups; }
};

// `source_extent(tile)` gives the source rows (or columns) a tile of `tile` results reads.
template <class ExtentH, class ExtentW>
Tiling choose_tiling(int height, int width, int64_t planes, int taps, size_t elem_bytes,
                     ExtentH source_h, ExtentW source_w) {
  Tiling t{};
  t.tw = std::min(width, 32);
  t.th = std::min(height, std::max(1, kOutputsPerBlock / t.tw));
  t.planes = static_cast<int>(
      std::clamp<int64_t>(kOutputsPerBlock / (t.th * t.tw), 1, std::max<int64_t>(planes, 1)));
  auto bytes = [&] {
    return size_t(t.planes) * (size_t(source_h(t.th)) * source_w(t.tw) + taps) * elem_bytes;
  };
  while (bytes() > kMaxSharedBytes) {
    if (t.planes > 1) {
      t.planes = (t.planes + 1) / 2;
    } else if (t.th > 1) {
      t.th = (t.th + 1) / 2;
    } else {
      AN_CHECK(t.tw > 1) << "depthwise_conv2d: a single output needs " << bytes()
                         << " bytes of shared memory; kernel/dilation too large";
      t.tw = (t.tw + 1) / 2;
    }
  }
  t.sh = source_h(t.th);
  t.sw = source_w(t.tw);
  t.tiles_h = (height + t.th - 1) / t.th;
  t.tiles_w = (width + t.tw - 1) / t.tw;
  t.plane_groups = (planes + t.planes - 1) / t.planes;
  t.shared_bytes = bytes();
  AN_CHECK(t.blocks() <= 0x7fffffff) << "depthwise_conv2d: too many blocks (" << t.blocks() << ")";
  return t;
}

AN_HOST_DEVICE int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Block index → (first plane, tile row, tile column).
struct TileOrigin {
  int64_t plane0;
  int row0, col0;
};
__device__ TileOrigin tile_origin(const Tiling& t) {
  int64_t b = blockIdx.x;
  const int tile_w = static_cast<int>(b % t.tiles_w);
  b /= t.tiles_w;
  const int tile_h = static_cast<int>(b % t.tiles_h);
  b /= t.tiles_h;
  return {b * t.planes, tile_h * t.th, tile_w * t.tw};
}

// Stages the block's filters: wts [planes, R·S], zero for planes past the end.
template <class T>
__device__ void stage_weights(const T* __restrict__ w, T* wts, int64_t plane0, int64_t planes,
                              int n_planes, int C, int taps) {
  for (int i = threadIdx.x; i < n_planes * taps; i += blockDim.x) {
    const int pl = i / taps;
    const int64_t plane = plane0 + pl;
    wts[i] = plane < planes ? w[(plane % C) * taps + (i - pl * taps)] : T(0);
  }
}

// K > 0: R = S = K, loops fully unrolled; K = 0: any R×S.
template <class T, int K>
__global__ void __launch_bounds__(kThreads)
    depthwise_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y,
                             DepthwiseGeometry g, Tiling t, int64_t planes) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* tile = reinterpret_cast<T*>(shared_raw);  // [planes, sh, sw] ReLU'd, zero-padded input
  T* wts = tile + t.planes * t.sh * t.sw;      // [planes, R·S]
  const int R = K > 0 ? K : g.R, S = K > 0 ? K : g.S;
  const TileOrigin o = tile_origin(t);
  const int ih0 = o.row0 * g.stride - g.pad_h, iw0 = o.col0 * g.stride - g.pad_w;

  const int region = t.sh * t.sw;
  for (int i = threadIdx.x; i < t.planes * region; i += blockDim.x) {
    const int pl = i / region, at = i - pl * region;
    const int rh = at / t.sw, rw = at - rh * t.sw;
    const int64_t plane = o.plane0 + pl;
    tile[i] = plane < planes ? depthwise_input(x + plane * g.H * g.W, g, ih0 + rh, iw0 + rw) : T(0);
  }
  stage_weights(w, wts, o.plane0, planes, t.planes, g.C, R * S);
  __syncthreads();

  const int tile_out = t.th * t.tw;
  for (int i = threadIdx.x; i < t.planes * tile_out; i += blockDim.x) {
    const int pl = i / tile_out, at = i - pl * tile_out;
    const int lh = at / t.tw, lw = at - lh * t.tw;
    const int oh = o.row0 + lh, ow = o.col0 + lw;
    const int64_t plane = o.plane0 + pl;
    if (plane >= planes || oh >= g.Ho || ow >= g.Wo) continue;
    const T* src = tile + pl * region + lh * g.stride * t.sw + lw * g.stride;
    const T* wp = wts + pl * R * S;
    T acc = 0;
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int s = 0; s < S; ++s)
        acc += wp[r * S + s] * src[r * g.dilation * t.sw + s * g.dilation];
    y[(plane * g.Ho + oh) * g.Wo + ow] = acc;
  }
}

// dx tile: stages the dy region its elements receive from, then each thread gathers
// Σ_{r,s} w[r,s]·dy[(ih + pad − r·dil)/stride, ...] over the taps whose division is exact.
// STRIDE > 0 fixes the stride at compile time (1 and 2 are DARTS'), 0 reads it from g.
template <class T, int K, int STRIDE>
__global__ void __launch_bounds__(kThreads)
    depthwise_backward_input_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                    const T* __restrict__ dy, T* __restrict__ dx,
                                    DepthwiseGeometry g, Tiling t, int64_t planes,
                                    bool accumulate) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* tile = reinterpret_cast<T*>(shared_raw);  // [planes, sh, sw] of dy, zero outside
  T* wts = tile + t.planes * t.sh * t.sw;      // [planes, R·S]
  const int R = K > 0 ? K : g.R, S = K > 0 ? K : g.S;
  const int stride = STRIDE > 0 ? STRIDE : g.stride;
  const TileOrigin o = tile_origin(t);
  // First dy row/column any element of this tile receives from.
  const int oh0 = floor_div(o.row0 + g.pad_h - (R - 1) * g.dilation, stride);
  const int ow0 = floor_div(o.col0 + g.pad_w - (S - 1) * g.dilation, stride);

  const int region = t.sh * t.sw;
  for (int i = threadIdx.x; i < t.planes * region; i += blockDim.x) {
    const int pl = i / region, at = i - pl * region;
    const int oh = oh0 + at / t.sw, ow = ow0 + at % t.sw;
    const int64_t plane = o.plane0 + pl;
    const bool inside = plane < planes && oh >= 0 && oh < g.Ho && ow >= 0 && ow < g.Wo;
    tile[i] = inside ? dy[(plane * g.Ho + oh) * g.Wo + ow] : T(0);
  }
  stage_weights(w, wts, o.plane0, planes, t.planes, g.C, R * S);
  __syncthreads();

  const int tile_out = t.th * t.tw;
  for (int i = threadIdx.x; i < t.planes * tile_out; i += blockDim.x) {
    const int pl = i / tile_out, at = i - pl * tile_out;
    const int lh = at / t.tw, lw = at - lh * t.tw;
    const int ih = o.row0 + lh, iw = o.col0 + lw;
    const int64_t plane = o.plane0 + pl;
    if (plane >= planes || ih >= g.H || iw >= g.W) continue;
    const int64_t at_x = (plane * g.H + ih) * g.W + iw;
    T acc = 0;
    // The folded ReLU passes no gradient where the input was clamped.
    if (!g.relu_input || x[at_x] > T(0)) {
      const T* src = tile + pl * region;
      const T* wp = wts + pl * R * S;
      // Offsets into the staged region are ≥ 0 because oh0 was taken at the last tap.
      const int base_h = ih + g.pad_h - oh0 * stride, base_w = iw + g.pad_w - ow0 * stride;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int th = base_h - r * g.dilation;
        const int rh = th / stride;
        if (rh * stride != th) continue;
#pragma unroll
        for (int s = 0; s < S; ++s) {
          const int tw = base_w - s * g.dilation;
          const int rw = tw / stride;
          if (rw * stride != tw) continue;
          acc += wp[r * S + s] * src[rh * t.sw + rw];
        }
      }
    }
    dx[at_x] = accumulate ? dx[at_x] + acc : acc;
  }
}

// Weight gradient: a cluster of blocks per channel c (cluster rank = chunk of the batch). Each
// block sums dy·input over its chunk for TAPS taps at a time (all of them when K > 0) into
// shared memory; then block 0 adds the cluster's sums, ranks in order, into dw[c]
// (cluster_sums.cuh). Launched with a runtime cluster size.
template <class T, int K>
__global__ void __launch_bounds__(kThreads)
    depthwise_weight_kernel(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dw,
                            DepthwiseGeometry g, int64_t N, PlaneStaging staging) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const int c = blockIdx.x / static_cast<int>(cooperative_groups::this_cluster().num_blocks());
  depthwise_weight_grad_in_cluster<kThreads, (K > 0 ? K * K : 1), K>(
      x, dy, g, c, N, reinterpret_cast<T*>(shared_raw), dw + int64_t(c) * g.R * g.S, {}, staging);
}

// Calls f(std::integral_constant<int, K>) with K = the square kernel size if it is 3 or 5, else 0.
template <class F>
void with_kernel_size(const DepthwiseGeometry& g, F&& f) {
  if (g.R == 3 && g.S == 3) {
    f(std::integral_constant<int, 3>{});
  } else if (g.R == 5 && g.S == 5) {
    f(std::integral_constant<int, 5>{});
  } else {
    f(std::integral_constant<int, 0>{});
  }
}

}  // namespace

void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p) {
  if (y.numel() == 0) return;
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), y.shape(), p);
  const int64_t planes = x.size(0) * x.size(1);
  const int span_h = (g.R - 1) * g.dilation, span_w = (g.S - 1) * g.dilation;
  const Tiling t = choose_tiling(
      g.Ho, g.Wo, planes, g.R * g.S, dtype_size(x.dtype()),
      [&](int th) { return (th - 1) * g.stride + span_h + 1; },
      [&](int tw) { return (tw - 1) * g.stride + span_w + 1; });
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "depthwise_conv2d_forward", [&]<class scalar_t>() {
    with_kernel_size(g, [&](auto k) {
      depthwise_forward_kernel<scalar_t, decltype(k)::value>
          <<<static_cast<unsigned>(t.blocks()), kThreads, t.shared_bytes, s>>>(
              x.data<scalar_t>(), w.data<scalar_t>(), y.data<scalar_t>(), g, t, planes);
    });
  });
  AN_CUDA_CHECK_LAUNCH();
}

void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p, GradMode dx_mode) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), dy.shape(), p);
  const int64_t N = x.size(0), planes = N * g.C;
  cudaStream_t s = stream(x.device());

  if (dw.defined() && dw.numel() > 0 && dy.numel() > 0) {
    // First, on the side stream: dx runs beside it (runtime/side_stream.h).
    const SideWork side(x.device());
    const int RS = g.R * g.S;
    const int chunks = static_cast<int>(std::clamp<int64_t>(N, 1, kWeightGradCluster));
    dispatch_float(x.dtype(), "depthwise_conv2d_backward", [&]<class scalar_t>() {
      size_t shared_bytes = RS * sizeof(scalar_t);
      const PlaneStaging staging =
          plane_staging(RS, RS, staged_plane_rows(g) * staged_plane_cols(g), g.Ho * g.Wo,
                        kThreads, sizeof(scalar_t), shared_bytes);
      with_kernel_size(g, [&](auto k) {
        launch_in_clusters(depthwise_weight_kernel<scalar_t, decltype(k)::value>,
                           static_cast<unsigned>(g.C * chunks), kThreads,
                           static_cast<unsigned>(chunks), shared_bytes, side.stream(),
                           x.data<scalar_t>(), dy.data<scalar_t>(), dw.data<scalar_t>(), g, N,
                           staging);
      });
    });
  }

  if (dx.defined() && dx.numel() > 0) {
    const int span_h = (g.R - 1) * g.dilation, span_w = (g.S - 1) * g.dilation;
    const Tiling t = choose_tiling(
        g.H, g.W, planes, g.R * g.S, dtype_size(x.dtype()),
        [&](int th) { return (th - 1 + span_h) / g.stride + 2; },
        [&](int tw) { return (tw - 1 + span_w) / g.stride + 2; });
    dispatch_float(x.dtype(), "depthwise_conv2d_backward", [&]<class scalar_t>() {
      with_kernel_size(g, [&](auto k) {
        constexpr int K = decltype(k)::value;
        auto launch = [&](auto kernel) {
          kernel<<<static_cast<unsigned>(t.blocks()), kThreads, t.shared_bytes, s>>>(
              x.data<scalar_t>(), w.data<scalar_t>(), dy.data<scalar_t>(), dx.data<scalar_t>(), g,
              t, planes, dx_mode == GradMode::Accumulate);
        };
        if (g.stride == 1) {
          launch(depthwise_backward_input_kernel<scalar_t, K, 1>);
        } else if (g.stride == 2) {
          launch(depthwise_backward_input_kernel<scalar_t, K, 2>);
        } else {
          launch(depthwise_backward_input_kernel<scalar_t, K, 0>);
        }
      });
    });
    AN_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace autonet::cuda
