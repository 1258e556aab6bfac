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

// The scale of kept elements, computed once on the host: 1/(1 − p) rounded to T.
template <class T>
T dropout_scale(double p) {
  return static_cast<T>(1.0 / (1.0 - p));
}

}  // namespace autonet
