// CUDA twin of the optimizer family: one grid-stride kernel per step over the flat buffers, the
// per-element rule shared with the CPU (optim_math.h). Bandwidth-bound: each element is read and
// written once.
#include "kernels/optim_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

template <class T>
__global__ void sgd_kernel(SgdScalars<T> s, T* w, const T* grad, T* buf, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    sgd_update(s, w[i], grad[i], buf ? buf + i : nullptr);
}

template <class T>
__global__ void adam_kernel(AdamScalars<T> s, T* w, const T* grad, T* m, T* v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    adam_update(s, w[i], grad[i], m[i], v[i]);
}

template <class T>
__global__ void asgd_kernel(AsgdScalars<T> s, T* w, const T* grad, T* ax, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    asgd_update(s, w[i], grad[i], ax[i]);
}

}  // namespace

void sgd_step(Tensor& w, const Tensor& grad, Tensor& momentum_buf, const SgdParams& p) {
  const int64_t n = w.numel();
  if (n == 0) return;
  cudaStream_t st = stream(w.device());
  dispatch_float(w.dtype(), "sgd_step", [&]<class scalar_t>() {
    scalar_t* buf = p.momentum != 0.0 ? momentum_buf.data<scalar_t>() : nullptr;
    sgd_kernel<<<grid_for(n), 256, 0, st>>>(sgd_scalars<scalar_t>(p), w.data<scalar_t>(),
                                             grad.data<scalar_t>(), buf, n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamParams& p) {
  const int64_t n = w.numel();
  if (n == 0) return;
  cudaStream_t st = stream(w.device());
  dispatch_float(w.dtype(), "adam_step", [&]<class scalar_t>() {
    adam_kernel<<<grid_for(n), 256, 0, st>>>(adam_scalars<scalar_t>(p), w.data<scalar_t>(),
                                              grad.data<scalar_t>(), m.data<scalar_t>(),
                                              v.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void asgd_step(Tensor& w, const Tensor& grad, Tensor& ax, const AsgdParams& p) {
  const int64_t n = w.numel();
  if (n == 0) return;
  cudaStream_t st = stream(w.device());
  dispatch_float(w.dtype(), "asgd_step", [&]<class scalar_t>() {
    asgd_kernel<<<grid_for(n), 256, 0, st>>>(asgd_scalars<scalar_t>(p), w.data<scalar_t>(),
                                              grad.data<scalar_t>(), ax.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
