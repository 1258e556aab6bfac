// CUDA twin of the concat family. Concat and split move up to kMaxParts parts per launch (a DARTS
// cell concatenates 4 node outputs: one launch), one thread per element of the parts' window of y.
#include "kernels/concat_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kMaxParts = kConcatPartsPerLaunch;

// A batch of parts, passed by value: where each starts along y's axis, and along the batch's
// own stacked axis (`stacked`), which the flat thread index walks.
template <class T>
struct PartBatch {
  T* ptr[kMaxParts];
  int64_t size[kMaxParts];
  int64_t y_offset[kMaxParts];
  int64_t stacked[kMaxParts];
  bool add[kMaxParts];  // split: add the window into the part instead of writing it
  int count = 0;
  int64_t stacked_total = 0;
};

template <class T, bool kToY>
__global__ void concat_kernel(PartBatch<T> batch, T* y, int64_t outer, int64_t total_axis,
                              int64_t inner) {
  const int64_t n = outer * batch.stacked_total * inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / (batch.stacked_total * inner);
    const int64_t a = (e / inner) % batch.stacked_total, i = e % inner;
    int k = 0;
    while (k + 1 < batch.count && batch.stacked[k + 1] <= a) ++k;
    const int64_t local = a - batch.stacked[k];
    const int64_t part_index = (o * batch.size[k] + local) * inner + i;
    const int64_t y_index = (o * total_axis + batch.y_offset[k] + local) * inner + i;
    if (kToY)
      y[y_index] = batch.ptr[k][part_index];
    else if (batch.add[k])
      batch.ptr[k][part_index] += y[y_index];
    else
      batch.ptr[k][part_index] = y[y_index];
  }
}

// Launches one kernel per kMaxParts non-empty parts (undefined parts skipped); a split adds into
// the parts whose mode is Accumulate.
template <class T, bool kToY>
void move_parts(const std::vector<Tensor>& parts, T* y, const ConcatGeometry& g, cudaStream_t s,
                const std::vector<GradMode>& modes = {}) {
  PartBatch<T> batch;
  auto flush = [&] {
    if (batch.count == 0) return;
    const int64_t n = g.outer * batch.stacked_total * g.inner;
    if (n > 0) {
      concat_kernel<T, kToY><<<grid_for(n), 256, 0, s>>>(batch, y, g.outer, g.total_axis, g.inner);
      AN_CUDA_CHECK_LAUNCH();
    }
    batch = PartBatch<T>();
  };
  for (size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k].defined() || g.axis_sizes[k] == 0) continue;
    batch.ptr[batch.count] = parts[k].data<T>();
    batch.size[batch.count] = g.axis_sizes[k];
    batch.y_offset[batch.count] = g.axis_offsets[k];
    batch.stacked[batch.count] = batch.stacked_total;
    batch.add[batch.count] = !modes.empty() && modes[k] == GradMode::Accumulate;
    batch.stacked_total += g.axis_sizes[k];
    if (++batch.count == kMaxParts) flush();
  }
  flush();
}

template <class T>
__global__ void slice2d_forward_kernel(const T* x, T* y, int64_t planes, int64_t h, int64_t w,
                                       Slice2dParams p) {
  const int64_t n = planes * p.out_h * p.out_w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % p.out_w, i = (e / p.out_w) % p.out_h, plane = e / (p.out_w * p.out_h);
    y[e] = x[(plane * h + p.offset_h + i * p.stride_h) * w + p.offset_w + j * p.stride_w];
  }
}

// One thread per dx element: it holds dy where the slice read it, zero elsewhere (added into the
// element when accumulating).
template <class T>
__global__ void slice2d_backward_kernel(const T* dy, T* dx, int64_t planes, int64_t h, int64_t w,
                                        Slice2dParams p, bool accumulate) {
  const int64_t n = planes * h * w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = e % w, row = (e / w) % h, plane = e / (w * h);
    const int64_t di = row - p.offset_h, dj = col - p.offset_w;
    const bool read = di >= 0 && dj >= 0 && di % p.stride_h == 0 && dj % p.stride_w == 0 &&
                      di / p.stride_h < p.out_h && dj / p.stride_w < p.out_w;
    const T g = read ? dy[(plane * p.out_h + di / p.stride_h) * p.out_w + dj / p.stride_w] : T(0);
    dx[e] = accumulate ? dx[e] + g : g;
  }
}

}  // namespace

void concat_forward(const std::vector<Tensor>& xs, int64_t axis, Tensor& y) {
  const ConcatGeometry g = concat_geometry(y.shape(), xs, axis);
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), "concat_forward", [&]<class scalar_t>() {
    move_parts<scalar_t, true>(xs, y.data<scalar_t>(), g, s);
  });
}

void concat_backward(const Tensor& dy, int64_t axis, std::vector<Tensor>& dxs,
                     const std::vector<GradMode>& dx_modes) {
  const ConcatGeometry g = concat_geometry(dy.shape(), dxs, axis);
  cudaStream_t s = stream(dy.device());
  dispatch_float(dy.dtype(), "concat_backward", [&]<class scalar_t>() {
    move_parts<scalar_t, false>(dxs, dy.data<scalar_t>(), g, s, dx_modes);
  });
}

void slice2d_forward(const Tensor& x, Tensor& y, const Slice2dParams& p) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  if (y.numel() == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "slice2d_forward", [&]<class scalar_t>() {
    slice2d_forward_kernel<<<grid_for(y.numel()), 256, 0, s>>>(x.data<scalar_t>(),
                                                               y.data<scalar_t>(), planes, h, w, p);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void slice2d_backward(const Tensor& dy, Tensor& dx, const Slice2dParams& p, GradMode dx_mode) {
  const int64_t planes = dx.size(0) * dx.size(1), h = dx.size(2), w = dx.size(3);
  if (dx.numel() == 0) return;
  cudaStream_t s = stream(dy.device());
  dispatch_float(dy.dtype(), "slice2d_backward", [&]<class scalar_t>() {
    slice2d_backward_kernel<<<grid_for(dx.numel()), 256, 0, s>>>(
        dy.data<scalar_t>(), dx.data<scalar_t>(), planes, h, w, p, dx_mode == GradMode::Accumulate);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
