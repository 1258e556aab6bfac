// Copying a plane's rows in whole chunks of kCopyChunk values, one vector move each: the CPU
// twins' framing and their copies out of a run. DARTS' rows hold 7–32 values, too short for the
// vectoriser's loop, which left most of each row to a scalar remainder. Always inlined, like
// lane_sum.h: defined before a variant's kernels, it is baseline code, and only inlined into the
// caller does it vectorise at the caller's level (kernels/cpu/isa.h).
#pragma once
#include <algorithm>
#include <cstdint>

namespace autonet::cpu {

constexpr int kCopyChunk = 8;

// dst row i = value(src row i), `cols` values, for rows [0, rows); rows `src_stride` and
// `dst_stride` apart. Rows of at least a chunk go in whole chunks but the last (copied exactly):
// the chunk past a row's end lands on what follows it in dst, which is then written again: a
// chunk of `fill` right after the row (where dst has room between its rows, as a frame's border),
// and the next row. So src must be readable, and dst writable, kCopyChunk values past every row
// but the last.
template <class T, class Value>
[[gnu::always_inline]] inline void copy_rows(const T* src, int64_t src_stride, T* dst,
                                             int64_t dst_stride, int rows, int cols, T fill,
                                             Value value) {
  const int chunked = cols >= kCopyChunk ? rows - 1 : 0;
  for (int i = 0; i < chunked; ++i) {
    const T* in = src + i * src_stride;
    T* out = dst + i * dst_stride;
    for (int j0 = 0; j0 < cols; j0 += kCopyChunk)
#pragma GCC unroll 8
      for (int l = 0; l < kCopyChunk; ++l) out[j0 + l] = value(in[j0 + l]);
    if (dst_stride != cols)
#pragma GCC unroll 8
      for (int l = 0; l < kCopyChunk; ++l) out[cols + l] = fill;
  }
  for (int i = chunked; i < rows; ++i)
    for (int j = 0; j < cols; ++j) dst[i * dst_stride + j] = value(src[i * src_stride + j]);
}

// The same without a change of values or room between dst's rows.
template <class T>
[[gnu::always_inline]] inline void copy_rows(const T* src, int64_t src_stride, T* dst,
                                             int64_t dst_stride, int rows, int cols) {
  copy_rows(src, src_stride, dst, dst_stride, rows, cols, T(0), [](T v) { return v; });
}

}  // namespace autonet::cpu
