// CPU reference of the channel_shuffle family: one plane copy per (image, output channel).
#include <cstring>

#include "kernels/channel_shuffle.h"
#include "kernels/channel_shuffle_math.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
// Copies every plane between y and its source in head/tail (to_y: forward, else backward); a
// null head or tail is skipped.
template <class T>
void move_planes(T* head, T* tail, T* y, const ShuffleGeometry& g, bool to_y) {
  const int64_t tail_channels = g.channels - g.head_channels;
  const size_t bytes = g.plane * sizeof(T);
#pragma omp parallel for if (g.batch * g.channels * g.plane > 65536)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t out = 0; out < g.channels; ++out) {
      const int64_t source = shuffle_source(g, out);
      const bool in_head = source < g.head_channels;
      T* part = in_head ? head : tail;
      if (part == nullptr) continue;
      part += in_head ? (n * g.head_channels + source) * g.plane
                      : (n * tail_channels + source - g.head_channels) * g.plane;
      T* window = y + (n * g.channels + out) * g.plane;
      if (to_y)
        std::memcpy(window, part, bytes);
      else
        std::memcpy(part, window, bytes);
    }
}

}  // namespace

void channel_shuffle_forward(const Tensor& head, const Tensor& tail, int64_t groups, Tensor& y) {
  dispatch_float(y.dtype(), "channel_shuffle_forward", [&]<class scalar_t>() {
    move_planes(head.data<scalar_t>(), tail.data<scalar_t>(), y.data<scalar_t>(),
                shuffle_geometry(y, head, tail, groups), /*to_y=*/true);
  });
}

void channel_shuffle_backward(const Tensor& dy, int64_t groups, Tensor& dhead, Tensor& dtail) {
  dispatch_float(dy.dtype(), "channel_shuffle_backward", [&]<class scalar_t>() {
    move_planes(data_or_null<scalar_t>(dhead), data_or_null<scalar_t>(dtail), dy.data<scalar_t>(),
                shuffle_geometry(dy, dhead, dtail, groups), /*to_y=*/false);
  });
}

AN_CPU_KERNELS_END
