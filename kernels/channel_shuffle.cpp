// Public entries of the channel_shuffle family: validate once, then dispatch to a twin.
#include "kernels/channel_shuffle.h"

namespace autonet {

namespace {
// y (or dy) [N, Ch + Ct, H, W] against head [N, Ch, H, W] and tail [N, Ct, H, W]; an undefined
// part (allowed in backward) spans what the other leaves over.
void check_shuffle(const Tensor& head, const Tensor& tail, int64_t groups, const Tensor& y,
                   const char* what) {
  check_float_tensor(y, 4, what);
  int64_t defined_channels = 0;
  for (const Tensor* part : {&head, &tail}) {
    if (!part->defined()) continue;
    check_matches(*part, y, what);
    check_dim(*part, 4, what);
    check_shape(*part, {y.size(0), part->size(1), y.size(2), y.size(3)}, what);
    defined_channels += part->size(1);
  }
  const bool both = head.defined() && tail.defined();
  AN_CHECK(both ? defined_channels == y.size(1) : defined_channels <= y.size(1))
      << what << ": head and tail span " << defined_channels << " channels, but "
      << y.describe() << " has " << y.size(1);
  AN_CHECK(groups >= 1 && y.size(1) % groups == 0)
      << what << ": " << y.size(1) << " channels do not split into " << groups << " groups";
}
}  // namespace

void channel_shuffle_forward(const Tensor& head, const Tensor& tail, int64_t groups, Tensor& y) {
  const char* what = "channel_shuffle_forward";
  AN_CHECK(head.defined() && tail.defined()) << what << ": head and tail must both be given";
  check_shuffle(head, tail, groups, y, what);
  AN_ON_DEVICE(y.device(), cpu::channel_shuffle_forward(head, tail, groups, y),
               cuda::channel_shuffle_forward(head, tail, groups, y));
}

void channel_shuffle_backward(const Tensor& dy, int64_t groups, Tensor& dhead, Tensor& dtail) {
  check_shuffle(dhead, dtail, groups, dy, "channel_shuffle_backward");
  if (!dhead.defined() && !dtail.defined()) return;
  AN_ON_DEVICE(dy.device(), cpu::channel_shuffle_backward(dy, groups, dhead, dtail),
               cuda::channel_shuffle_backward(dy, groups, dhead, dtail));
}

}  // namespace autonet
