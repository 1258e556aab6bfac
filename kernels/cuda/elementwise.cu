// CUDA twin of the elementwise family: grid-stride loops over the shared scalar formulas.
#include "kernels/elementwise_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

template <class T>
__global__ void unary_forward_kernel(UnaryOp op, const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = unary_value(op, x[i]);
}

template <class T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* y, const T* dy, T* dx,
                                      bool accumulate, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T g = dy[i] * unary_derivative(op, x[i], y[i]);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

template <class T>
__global__ void binary_forward_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = binary_value(op, a[i], b[i]);
}

// alpha_scale: null, or a device value alpha is multiplied by (in double, then rounded to T as
// the host's axpby(alpha · value) would).
template <class T>
__global__ void axpby_kernel(double alpha, const double* alpha_scale, const T* x, T beta, T* y,
                             int64_t n) {
  const T a = static_cast<T>(alpha_scale ? alpha * *alpha_scale : alpha);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = beta == T(0) ? a * x[i] : a * x[i] + beta * y[i];
}

template <class T>
__global__ void fill_kernel(T* y, T value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = value;
}

}  // namespace

void unary_forward(UnaryOp op, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "unary_forward", [&]<class scalar_t>() {
    unary_forward_kernel<<<grid_for(n), 256, 0, s>>>(op, x.data<scalar_t>(), y.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                    GradMode mode) {
  const int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "unary_backward", [&]<class scalar_t>() {
    unary_backward_kernel<<<grid_for(n), 256, 0, s>>>(
        op, x.data<scalar_t>(), y.data<scalar_t>(), dy.data<scalar_t>(), dx.data<scalar_t>(),
        mode == GradMode::Accumulate, n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = a.numel();
  if (n == 0) return;
  cudaStream_t s = stream(a.device());
  dispatch_float(a.dtype(), "binary_forward", [&]<class scalar_t>() {
    binary_forward_kernel<<<grid_for(n), 256, 0, s>>>(op, a.data<scalar_t>(), b.data<scalar_t>(),
                                                       out.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void axpby(double alpha, const Tensor& x, double beta, Tensor& y, const Tensor& alpha_scale) {
  const int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = stream(x.device());
  const double* scale = alpha_scale.defined() ? alpha_scale.data<double>() : nullptr;
  dispatch_float(x.dtype(), "axpby", [&]<class scalar_t>() {
    axpby_kernel<<<grid_for(n), 256, 0, s>>>(alpha, scale, x.data<scalar_t>(),
                                              static_cast<scalar_t>(beta), y.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void fill(Tensor& y, double value) {
  const int64_t n = y.numel();
  if (n == 0) return;
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), "fill", [&]<class scalar_t>() {
    fill_kernel<<<grid_for(n), 256, 0, s>>>(y.data<scalar_t>(), static_cast<scalar_t>(value), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
