// CUDA twin of the dropout family: one Philox draw per element, the same formula as the CPU.
#include "kernels/cuda/add_unfused.cuh"
#include "kernels/dropout_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// out = in · mask / (1 − p), or that added into out (add_unfused: as the CPU adds a formed value).
template <class T>
__global__ void apply_mask_kernel(const T* in, T* out, int64_t n, PhiloxKey key,
                                  int64_t mask_period, double p, T scale, bool add) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T kept = dropout_keep(key, mask_period, p, i) ? in[i] * scale : T(0);
    out[i] = add ? add_unfused(out[i], kept) : kept;
  }
}

void apply_mask(const Tensor& in, Tensor& out, const DropoutParams& p, const char* what,
                bool add = false) {
  const int64_t n = in.numel();
  if (n == 0) return;
  cudaStream_t s = stream(in.device());
  dispatch_float(in.dtype(), what, [&]<class scalar_t>() {
    apply_mask_kernel<<<grid_for(n), 256, 0, s>>>(in.data<scalar_t>(), out.data<scalar_t>(), n,
                                                  p.key, p.mask_period, p.p,
                                                  dropout_scale<scalar_t>(p.p), add);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p) {
  apply_mask(x, y, p, "dropout_forward");
}

void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p, GradMode dx_mode) {
  apply_mask(dy, dx, p, "dropout_backward", dx_mode == GradMode::Accumulate);
}

}  // namespace autonet::cuda
