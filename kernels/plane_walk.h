// A thread's share of a grid- or block-stride loop over the elements of planes, without a
// division per element: the depthwise weight gradients (cluster_sums.cuh) and the batch norms'
// per-channel reductions (cuda/batch_norm_reduce.cuh) walk (sample, position) pairs this way.
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

}  // namespace autonet
