// The chunked row copy of the CPU twins (kernels/cpu/row_copy.h): every row lands where it
// belongs, transformed, whatever its length against the chunk; between a frame's rows only the
// fill value; nothing past the last row's end is written (its chunk is exact, so a frame or an
// output plane needs no room after it).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/row_copy.h"

namespace autonet::test {
namespace {

constexpr float kUntouched = -7.0f, kFill = -1.0f;

// Copies rows × cols values (src rows cols + 3 apart, readable kCopyChunk past the last) into a
// buffer of rows `dst_stride` apart pre-filled with the fill value, then checks every position.
void check_copy(int rows, int cols, int dst_stride) {
  SCOPED_TRACE(std::to_string(rows) + " rows of " + std::to_string(cols) + ", dst stride " +
               std::to_string(dst_stride));
  const int src_stride = cols + 3;
  std::vector<float> src(static_cast<size_t>(rows) * src_stride + cpu::kCopyChunk);
  for (size_t i = 0; i < src.size(); ++i) src[i] = 1.0f + static_cast<float>(i);
  const size_t used = static_cast<size_t>(rows - 1) * dst_stride + cols;
  std::vector<float> dst(used + 2 * cpu::kCopyChunk, kUntouched);
  std::fill(dst.begin(), dst.begin() + static_cast<std::ptrdiff_t>(used), kFill);
  cpu::copy_rows(src.data(), src_stride, dst.data(), dst_stride, rows, cols, kFill,
                 [](float v) { return 2.0f * v; });
  for (size_t at = 0; at < dst.size(); ++at) {
    const int i = static_cast<int>(at / dst_stride), j = static_cast<int>(at % dst_stride);
    const float want = at >= used ? kUntouched
                       : j < cols ? 2.0f * src[static_cast<size_t>(i) * src_stride + j]
                                  : kFill;
    ASSERT_EQ(dst[at], want) << "position " << at << " (row " << i << ", column " << j << ")";
  }
}

TEST(RowCopy, EveryRowLandsTransformedAndNothingElseChanges) {
  for (int rows : {1, 2, 5})
    for (int cols : {1, 3, 7, 8, 9, 15, 16, 17, 28}) {
      check_copy(rows, cols, cols);      // dense: an output plane
      check_copy(rows, cols, cols + 2);  // a frame with a gap of 2 (pad 1)
      check_copy(rows, cols, cols + 8);  // a gap of a whole chunk (pad 4)
      check_copy(rows, cols, cols + 11);
    }
}

}  // namespace
}  // namespace autonet::test
