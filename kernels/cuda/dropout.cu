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

// The parts of a stack, by value in the kernel parameters: part j is rows [j·S, (j + 1)·S).
template <class T, class Ptr>
struct StackParts {
  int count;
  Ptr part[kMaxStackParts];
};

// y = concat(parts), y_dropped = dropout(y): element i of both from part i / S.
template <class T>
__global__ void stack_forward_kernel(StackParts<T, const T*> xs, int64_t S, T* y, T* y_dropped,
                                     int64_t n, PhiloxKey key, int64_t mask_period, double p,
                                     T scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T v = xs.part[i / S][i % S];
    y[i] = v;
    y_dropped[i] = dropout_keep(key, mask_period, p, i) ? v * scale : T(0);
  }
}

// dxs[i / S] (=|+=) dy[i] + dropout_backward(dy_dropped)[i], each term where given, rounded as
// the CPU twin forms them (the dropped term added with add_unfused, then the part added once).
template <class T>
__global__ void stack_backward_kernel(const T* dy, const T* dy_dropped, StackParts<T, T*> dxs,
                                      unsigned accumulate, int64_t S, int64_t n, PhiloxKey key,
                                      int64_t mask_period, double p, T scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i / S;
    T* dx = dxs.part[j];
    if (!dx) continue;
    T g = dy ? dy[i] : T(0);
    if (dy_dropped) {
      const T dropped = dropout_keep(key, mask_period, p, i) ? dy_dropped[i] * scale : T(0);
      g = dy ? add_unfused(g, dropped) : dropped;
    }
    dx[i % S] = (accumulate >> j) & 1u ? add_unfused(dx[i % S], g) : g;
  }
}

}  // namespace

void stack_dropout_forward(const std::vector<Tensor>& xs, Tensor& y, Tensor& y_dropped,
                           const DropoutParams& p) {
  const int64_t n = y.numel();
  if (n == 0) return;
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), "stack_dropout_forward", [&]<class scalar_t>() {
    StackParts<scalar_t, const scalar_t*> parts{};
    parts.count = static_cast<int>(xs.size());
    for (size_t j = 0; j < xs.size(); ++j) parts.part[j] = xs[j].data<scalar_t>();
    stack_forward_kernel<<<grid_for(n), 256, 0, s>>>(
        parts, n / y.size(0), y.data<scalar_t>(), y_dropped.data<scalar_t>(), n, p.key,
        p.mask_period, p.p, dropout_scale<scalar_t>(p.p));
  });
  AN_CUDA_CHECK_LAUNCH();
}

void stack_dropout_backward(const Tensor& dy, const Tensor& dy_dropped, std::vector<Tensor>& dxs,
                            const std::vector<GradMode>& dx_modes, const DropoutParams& p) {
  const Tensor& like = dy.defined() ? dy : dy_dropped;
  const int64_t n = like.numel();
  if (n == 0) return;
  cudaStream_t s = stream(like.device());
  dispatch_float(like.dtype(), "stack_dropout_backward", [&]<class scalar_t>() {
    StackParts<scalar_t, scalar_t*> parts{};
    parts.count = static_cast<int>(dxs.size());
    unsigned accumulate = 0;
    for (size_t j = 0; j < dxs.size(); ++j) {
      parts.part[j] = dxs[j].defined() ? dxs[j].data<scalar_t>() : nullptr;
      if (dx_modes[j] == GradMode::Accumulate) accumulate |= 1u << j;
    }
    stack_backward_kernel<<<grid_for(n), 256, 0, s>>>(
        dy.defined() ? dy.data<scalar_t>() : nullptr,
        dy_dropped.defined() ? dy_dropped.data<scalar_t>() : nullptr, parts, accumulate,
        n / like.size(0), n, p.key, p.mask_period, p.p, dropout_scale<scalar_t>(p.p));
  });
  AN_CUDA_CHECK_LAUNCH();
}

void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p) {
  apply_mask(x, y, p, "dropout_forward");
}

void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p, GradMode dx_mode) {
  apply_mask(dy, dx, p, "dropout_backward", dx_mode == GradMode::Accumulate);
}

}  // namespace autonet::cuda
