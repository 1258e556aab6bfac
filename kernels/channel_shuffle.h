// PC-DARTS's partial-channel merge (Xu et al. 2020, the official `channel_shuffle`): an edge sends
// its first C/K channels (`head`) through the mixed op and lets the rest (`tail`) bypass it; the two
// are joined on channels and shuffled with K groups so that the next edge's head sees channels of
// both. The split itself is concat_backward (kernels/concat.h).
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

AN_KERNEL_ENTRIES(
// head [N, Ch, H, W], tail [N, Ct, H, W] → y [N, C, H, W] with C = Ch + Ct divisible by groups.
// With z = concat(head, tail) on channels, y channel j·groups + i is z channel i·(C/groups) + j:
// torch's view(N, groups, C/groups, H, W).transpose(1, 2). A tail of 0 channels shuffles head alone.
void channel_shuffle_forward(const Tensor& head, const Tensor& tail, int64_t groups, Tensor& y);
// dhead and dtail (the shapes of head and tail) are written with their channels of dy unshuffled;
// either may be undefined (skipped), its channels being those the other leaves over.
void channel_shuffle_backward(const Tensor& dy, int64_t groups, Tensor& dhead, Tensor& dtail);
)

}  // namespace autonet
