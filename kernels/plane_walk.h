// A thread's share of a grid- or block-stride loop over the elements of planes, without a
// division per element: the depthwise weight gradients (cluster_sums.cuh) and the batch norms'
// per-channel reductions (cuda/batch_norm_reduce.cuh) walk (sample, position) pairs this way,
// the batch norms' elementwise kernels the channel of each element.
#pragma once
#include <cstdint>

#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// Thread `tid` of `threads`' share of a chunk of samples [n0, n1) of planes of `plane` values:
// elements e = tid, tid + threads, ... < (n1 − n0)·plane as (sample n, position at), advanced by
// adds (a division per element would cost more than a 3×3 filter's taps, or a norm's sum).
struct PlaneWalk {
  int64_t n, n1;
  int at, plane;
  int64_t step_n;  // a step of `threads` elements: whole planes and the rest
  int step_at;
  AN_HOST_DEVICE PlaneWalk(int64_t n0, int64_t n1_, int plane_, int tid, int threads)
      : n(plane_ > 0 ? n0 + tid / plane_ : n1_),
        n1(n1_),
        at(plane_ > 0 ? tid % plane_ : 0),
        plane(plane_),
        step_n(plane_ > 0 ? threads / plane_ : 0),
        step_at(plane_ > 0 ? threads % plane_ : 0) {}
  AN_HOST_DEVICE bool valid() const { return n < n1; }
  AN_HOST_DEVICE void next() {
    n += step_n, at += step_at;
    if (at >= plane) at -= plane, ++n;
  }
};

// The channel c = (i / S) % C of element i of an [N, C, S] tensor along a stride loop
// i = first, first + step, …, kept up to date by adds instead of two divisions an element.
// Needs C, S > 0 (construct it only for a loop that runs).
struct ChannelWalk {
  uint32_t c, s, C, S, step_c, step_s;
  AN_HOST_DEVICE ChannelWalk(uint32_t first, uint32_t step, uint32_t C_, uint32_t S_)
      : c((first / S_) % C_),
        s(first % S_),
        C(C_),
        S(S_),
        step_c((step / S_) % C_),
        step_s(step % S_) {}
  AN_HOST_DEVICE void next() {
    s += step_s, c += step_c;
    if (s >= S) s -= S, ++c;  // c + step_c + 1 < 2C: one wrap at most
    if (c >= C) c -= C;
  }
};

}  // namespace autonet
