// The dropout mask, shared by the CPU loop and the CUDA kernel so both draw the same decisions.
#pragma once
#include <cstdint>

#include "kernels/dropout.h"

namespace autonet {

// Element i is kept when philox_uniform(key, i mod period) >= p (period 0: no wrap).
AN_HOST_DEVICE bool dropout_keep(const PhiloxKey& key, int64_t mask_period, double p, int64_t i) {
  const int64_t index = mask_period > 0 ? i % mask_period : i;
  return static_cast<double>(philox_uniform(key, static_cast<uint64_t>(index))) >= p;
}

// Calls f(i, keep) for i in [begin, end) in order, keep = dropout_keep(key, mask_period, p, i),
// drawing one Philox block for four elements wherever their mask indices are a block's four
// (dropout_keep alone draws a block per element and keeps one of its words): the same decisions.
template <class F>
AN_HOST_DEVICE void for_each_keep(const PhiloxKey& key, int64_t mask_period, double p,
                                  int64_t begin, int64_t end, F&& f) {
  int64_t index = mask_period > 0 ? begin % mask_period : begin;  // i's mask index
  for (int64_t i = begin; i < end;) {
    if (index % 4 == 0 && end - i >= 4 && (mask_period == 0 || mask_period - index >= 4)) {
      const Philox4 r = philox_uniform_block(key, key.block(static_cast<uint64_t>(index)));
      AN_UNROLL  // the block's words then stay in registers
      for (int lane = 0; lane < 4; ++lane)
        f(i + lane, static_cast<double>(philox_word_uniform(r.v[lane])) >= p);
      i += 4, index += 4;
    } else {
      f(i, dropout_keep(key, mask_period, p, i));
      ++i, ++index;
    }
    if (mask_period > 0 && index == mask_period) index = 0;
  }
}

// The scale of kept elements, computed once on the host: 1/(1 − p) rounded to T.
template <class T>
T dropout_scale(double p) {
  return static_cast<T>(1.0 / (1.0 - p));
}

}  // namespace autonet
