// CUDA twin of the dropout family: the same decisions as the CPU's (dropout_math.h), a thread per
// four consecutive elements so that one Philox block (and one mask-index modulo) serves four
// (for_each_keep), where a thread per element drew a block for each and kept one of its words.
#include <algorithm>

#include "kernels/cuda/add_unfused.cuh"
#include "kernels/dropout_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// f(begin, end) for this thread's quads of [0, n): [4q, 4q + 4) ∩ [0, n), grid-stride.
template <class F>
__device__ void for_each_quad(int64_t n, F&& f) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; 4 * q < n;
       q += int64_t(gridDim.x) * blockDim.x)
    f(4 * q, std::min(4 * q + 4, n));
}

// The threads a launch over n elements takes: one per quad.
int64_t quads(int64_t n) { return (n + 3) / 4; }

// out = in · mask / (1 − p), or that added into out (add_unfused: as the CPU adds a formed value).
template <class T>
__global__ void apply_mask_kernel(const T* in, T* out, int64_t n, PhiloxKey key,
                                  int64_t mask_period, double p, T scale, bool add) {
  for_each_quad(n, [&](int64_t begin, int64_t end) {
    for_each_keep(key, mask_period, p, begin, end, [&](int64_t i, bool keep) {
      const T kept = keep ? in[i] * scale : T(0);
      out[i] = add ? add_unfused(out[i], kept) : kept;
    });
  });
}

void apply_mask(const Tensor& in, Tensor& out, const DropoutParams& p, const char* what,
                bool add = false) {
  const int64_t n = in.numel();
  if (n == 0) return;
  cudaStream_t s = stream(in.device());
  dispatch_float(in.dtype(), what, [&]<class scalar_t>() {
    apply_mask_kernel<<<grid_for(quads(n)), 256, 0, s>>>(in.data<scalar_t>(), out.data<scalar_t>(), n,
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

// Element i's part j = i / S and its place i % S, found once a quad and moved on by adds.
struct PartPlace {
  int64_t j, at;
  __device__ PartPlace(int64_t i, int64_t S) : j(i / S), at(i % S) {}
  __device__ void next(int64_t S) {
    if (++at == S) at = 0, ++j;
  }
};

// y = concat(parts), y_dropped = dropout(y): element i of both from part i / S.
template <class T>
__global__ void stack_forward_kernel(StackParts<T, const T*> xs, int64_t S, T* y, T* y_dropped,
                                     int64_t n, PhiloxKey key, int64_t mask_period, double p,
                                     T scale) {
  for_each_quad(n, [&](int64_t begin, int64_t end) {
    PartPlace place(begin, S);
    for_each_keep(key, mask_period, p, begin, end, [&](int64_t i, bool keep) {
      const T v = xs.part[place.j][place.at];
      y[i] = v;
      y_dropped[i] = keep ? v * scale : T(0);
      place.next(S);
    });
  });
}

// dxs[i / S] (=|+=) dy[i] + dropout_backward(dy_dropped)[i], each term where given, rounded as
// the CPU twin forms them (the dropped term added with add_unfused, then the part added once).
// Without dy_dropped no mask is drawn.
template <class T>
__global__ void stack_backward_kernel(const T* dy, const T* dy_dropped, StackParts<T, T*> dxs,
                                      unsigned accumulate, int64_t S, int64_t n, PhiloxKey key,
                                      int64_t mask_period, double p, T scale) {
  for_each_quad(n, [&](int64_t begin, int64_t end) {
    PartPlace place(begin, S);
    const auto land = [&](int64_t i, bool keep) {
      T* dx = dxs.part[place.j];
      if (dx) {
        T g = dy ? dy[i] : T(0);
        if (dy_dropped) {
          const T dropped = keep ? dy_dropped[i] * scale : T(0);
          g = dy ? add_unfused(g, dropped) : dropped;
        }
        dx[place.at] = (accumulate >> place.j) & 1u ? add_unfused(dx[place.at], g) : g;
      }
      place.next(S);
    };
    if (dy_dropped) {
      for_each_keep(key, mask_period, p, begin, end, land);
    } else {
      for (int64_t i = begin; i < end; ++i) land(i, false);
    }
  });
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
    stack_forward_kernel<<<grid_for(quads(n)), 256, 0, s>>>(
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
    stack_backward_kernel<<<grid_for(quads(n)), 256, 0, s>>>(
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
