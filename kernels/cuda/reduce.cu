// CUDA twin of the reduction family. Sums run in double like the CPU; every reduction has a fixed
// order (no atomics), so results are deterministic run to run.
#include <cub/cub.cuh>

#include "kernels/reduce_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kBlock = 256;

struct MaxOp {
  __device__ double operator()(double p, double q) const { return q > p ? q : p; }
};

// One thread per output (o, i), walking the axis in order: consecutive threads read consecutive
// inner positions (coalesced when inner > 1), and the sum has the CPU's exact order.
template <class T>
__global__ void reduce_column_kernel(ReduceOp op, const T* x, T* y, ReduceGeometry g) {
  const int64_t n = g.outer * g.inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / g.inner, i = e % g.inner;
    const T* column = x + o * g.axis * g.inner + i;
    if (op == ReduceOp::max) {
      y[e] = column[first_argmax(column, g.axis, g.inner) * g.inner];
      continue;
    }
    double sum = 0;
    for (int64_t a = 0; a < g.axis; ++a) sum += column[a * g.inner];
    y[e] = static_cast<T>(op == ReduceOp::mean ? sum / g.axis : sum);
  }
}

// Long contiguous rows (inner == 1): one block per row, a fixed-shape block reduction.
template <class T>
__global__ void reduce_row_kernel(ReduceOp op, const T* x, T* y, int64_t axis) {
  using BlockReduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  const T* row = x + blockIdx.x * axis;
  if (op == ReduceOp::max) {
    double best = row[0];
    for (int64_t a = threadIdx.x; a < axis; a += kBlock) best = row[a] > best ? double(row[a]) : best;
    const double m = BlockReduce(temp).Reduce(best, MaxOp());
    if (threadIdx.x == 0) y[blockIdx.x] = static_cast<T>(m);
    return;
  }
  double sum = 0;
  for (int64_t a = threadIdx.x; a < axis; a += kBlock) sum += row[a];
  const double total = BlockReduce(temp).Sum(sum);
  if (threadIdx.x == 0) y[blockIdx.x] = static_cast<T>(op == ReduceOp::mean ? total / axis : total);
}

template <class T>
__global__ void reduce_spread_kernel(ReduceOp op, const T* dy, T* dx, ReduceGeometry g) {
  const int64_t n = g.outer * g.axis * g.inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / (g.axis * g.inner), i = e % g.inner;
    const T grad = dy[o * g.inner + i];
    dx[e] = op == ReduceOp::mean ? grad / static_cast<T>(g.axis) : grad;
  }
}

template <class T>
__global__ void reduce_max_backward_kernel(const T* x, const T* dy, T* dx, ReduceGeometry g) {
  const int64_t n = g.outer * g.inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / g.inner, i = e % g.inner;
    const int64_t base = o * g.axis * g.inner + i;
    const int64_t best = first_argmax(x + base, g.axis, g.inner);
    const T grad = dy[e];
    for (int64_t a = 0; a < g.axis; ++a) dx[base + a * g.inner] = a == best ? grad : T(0);
  }
}

// Pass 1 of sum_of_squares: block b sums a fixed grid-stride subset into partial[b].
template <class T>
__global__ void squares_partial_kernel(const T* x, int64_t n, double* partial) {
  using BlockReduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(kBlock) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kBlock) {
    const double v = x[i];
    s += v * v;
  }
  const double total = BlockReduce(temp).Sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Pass 2: one block folds the partials in a fixed order and writes or accumulates out[0].
template <class O>
__global__ void squares_final_kernel(const double* partial, int blocks, O* out, bool accumulate) {
  using BlockReduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  double s = 0;
  for (int b = threadIdx.x; b < blocks; b += kBlock) s += partial[b];
  const double total = BlockReduce(temp).Sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<O>(accumulate ? double(out[0]) + total : total);
}

// Every thread derives the factor from Σx² itself: the clip needs no host round trip.
template <class T>
__global__ void scale_to_max_norm_kernel(T* grad, int64_t n, const double* sum_sq, double max_norm,
                                         double* norm) {
  const double s = *sum_sq;
  if (blockIdx.x == 0 && threadIdx.x == 0) *norm = sqrt(s);
  const double factor = clip_factor(s, max_norm);
  if (!(factor < 1.0)) return;
  const T f = static_cast<T>(factor);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    grad[i] *= f;
}

// One thread: three scalars from Σv² (reduce_math.h), with no host round trip.
__global__ void central_difference_scales_kernel(const double* sum_sq, double step,
                                                 double* scales) {
  const CentralDifference d = central_difference(*sum_sq, step);
  scales[0] = d.norm, scales[1] = d.radius, scales[2] = d.inverse_width;
}

__global__ void clip_coefficient_kernel(const double* norm, double max_norm, double* coefficient) {
  *coefficient = clip_coefficient_of(*norm, max_norm);
}

}  // namespace

void reduce_forward(ReduceOp op, const Tensor& x, int64_t axis, Tensor& y) {
  const ReduceGeometry g = reduce_geometry(x.shape(), axis);
  if (y.numel() == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "reduce_forward", [&]<class scalar_t>() {
    if (g.axis == 0) {  // an empty sum
      AN_CUDA_CHECK(cudaMemsetAsync(y.data<scalar_t>(), 0, y.nbytes(), s));
    } else if (g.inner == 1 && g.axis >= 1024) {
      reduce_row_kernel<<<static_cast<unsigned>(g.outer), kBlock, 0, s>>>(
          op, x.data<scalar_t>(), y.data<scalar_t>(), g.axis);
    } else {
      reduce_column_kernel<<<grid_for(g.outer * g.inner), kBlock, 0, s>>>(
          op, x.data<scalar_t>(), y.data<scalar_t>(), g);
    }
  });
  AN_CUDA_CHECK_LAUNCH();
}

void reduce_backward(ReduceOp op, const Tensor& x, const Tensor&, const Tensor& dy, int64_t axis,
                     Tensor& dx) {
  const ReduceGeometry g = reduce_geometry(x.shape(), axis);
  if (x.numel() == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "reduce_backward", [&]<class scalar_t>() {
    if (op == ReduceOp::max) {
      reduce_max_backward_kernel<<<grid_for(g.outer * g.inner), kBlock, 0, s>>>(
          x.data<scalar_t>(), dy.data<scalar_t>(), dx.data<scalar_t>(), g);
    } else {
      reduce_spread_kernel<<<grid_for(x.numel()), kBlock, 0, s>>>(op, dy.data<scalar_t>(),
                                                                  dx.data<scalar_t>(), g);
    }
  });
  AN_CUDA_CHECK_LAUNCH();
}

void sum_of_squares(const Tensor& x, Tensor& out, GradMode mode) {
  const int64_t n = x.numel();
  cudaStream_t s = stream(x.device());
  // The block count depends on n only, so the summation order is fixed for a given size.
  const int blocks = static_cast<int>(std::min<int64_t>(1024, std::max<int64_t>(1, (n + kBlock - 1) / kBlock)));
  Tensor partial = Tensor::empty({blocks}, DType::f64, x.device());
  dispatch_float(x.dtype(), "sum_of_squares", [&]<class scalar_t>() {
    squares_partial_kernel<<<blocks, kBlock, 0, s>>>(x.data<scalar_t>(), n, partial.data<double>());
  });
  AN_CUDA_CHECK_LAUNCH();
  dispatch_float(out.dtype(), "sum_of_squares", [&]<class out_t>() {
    squares_final_kernel<<<1, kBlock, 0, s>>>(partial.data<double>(), blocks, out.data<out_t>(),
                                              mode == GradMode::Accumulate);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void scale_to_max_norm(Tensor& grad, const Tensor& sum_sq, double max_norm, Tensor& norm) {
  const int64_t n = grad.numel();
  cudaStream_t s = stream(grad.device());
  dispatch_float(grad.dtype(), "scale_to_max_norm", [&]<class scalar_t>() {
    scale_to_max_norm_kernel<<<grid_for(n), kBlock, 0, s>>>(
        grad.data<scalar_t>(), n, sum_sq.data<double>(), max_norm, norm.data<double>());
  });
  AN_CUDA_CHECK_LAUNCH();
}

void central_difference_scales(const Tensor& sum_sq, double step, Tensor& scales) {
  central_difference_scales_kernel<<<1, 1, 0, stream(sum_sq.device())>>>(
      sum_sq.data<double>(), step, scales.data<double>());
  AN_CUDA_CHECK_LAUNCH();
}

void clip_coefficient(const Tensor& norm, double max_norm, Tensor& coefficient) {
  clip_coefficient_kernel<<<1, 1, 0, stream(norm.device())>>>(norm.data<double>(), max_norm,
                                                              coefficient.data<double>());
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
