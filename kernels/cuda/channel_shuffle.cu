// CUDA twin of the channel_shuffle family: a pure permutation of planes, one thread per element of
// y (forward: gather from head/tail; backward: scatter back), so every write has one owner.
#include "kernels/channel_shuffle.h"
#include "kernels/channel_shuffle_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// A null head or tail (a gradient nobody wants) is skipped.
template <class T, bool kToY>
__global__ void channel_shuffle_kernel(T* head, T* tail, T* y, ShuffleGeometry g) {
  const int64_t n = g.batch * g.channels * g.plane;
  const int64_t tail_channels = g.channels - g.head_channels;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e % g.plane, out = (e / g.plane) % g.channels;
    const int64_t image = e / (g.plane * g.channels);
    const int64_t source = shuffle_source(g, out);
    const bool in_head = source < g.head_channels;
    T* part = in_head ? head : tail;
    if (part == nullptr) continue;
    T* element = part + (in_head ? (image * g.head_channels + source) * g.plane
                                 : (image * tail_channels + source - g.head_channels) * g.plane) +
                 p;
    if (kToY)
      y[e] = *element;
    else
      *element = y[e];
  }
}

template <bool kToY>
void launch(const Tensor& head, const Tensor& tail, const Tensor& y, int64_t groups,
            const char* what) {
  const ShuffleGeometry g = shuffle_geometry(y, head, tail, groups);
  const int64_t n = y.numel();
  if (n == 0) return;
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), what, [&]<class scalar_t>() {
    scalar_t* h = head.defined() ? head.data<scalar_t>() : nullptr;
    scalar_t* t = tail.defined() ? tail.data<scalar_t>() : nullptr;
    channel_shuffle_kernel<scalar_t, kToY><<<grid_for(n), 256, 0, s>>>(h, t, y.data<scalar_t>(), g);
    AN_CUDA_CHECK_LAUNCH();
  });
}
}  // namespace

void channel_shuffle_forward(const Tensor& head, const Tensor& tail, int64_t groups, Tensor& y) {
  launch</*kToY=*/true>(head, tail, y, groups, "channel_shuffle_forward");
}

void channel_shuffle_backward(const Tensor& dy, int64_t groups, Tensor& dhead, Tensor& dtail) {
  launch</*kToY=*/false>(dhead, dtail, dy, groups, "channel_shuffle_backward");
}

}  // namespace autonet::cuda
