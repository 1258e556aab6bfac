// for_each_keep (one Philox block for four elements) against dropout_keep (a block per element):
// the same decisions for every element, wherever a range starts and ends, with and without a
// mask period (a multiple of 4, and one that is not), and through an anchored key.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/dropout_math.h"

namespace autonet {
namespace {

TEST(DropoutKeep, FourAtATimeDrawsWhatOneAtATimeDraws) {
  const uint64_t anchor = 5;
  for (const PhiloxKey& key : {PhiloxKey{11, 3, 7}, PhiloxKey{12, 4, 2, &anchor}})
    for (int64_t period : {int64_t(0), int64_t(6), int64_t(8), int64_t(24)})
      for (int64_t begin = 0; begin < 9; ++begin)
        for (int64_t end = begin; end < begin + 30; end += 7) {
          std::vector<int64_t> seen;
          int kept = 0;
          for_each_keep(key, period, 0.4, begin, end, [&](int64_t i, bool keep) {
            seen.push_back(i);
            kept += keep;
            EXPECT_EQ(keep, dropout_keep(key, period, 0.4, i))
                << "element " << i << " of [" << begin << ", " << end << "), period " << period;
          });
          ASSERT_EQ(std::ssize(seen), end - begin);
          for (int64_t k = 0; k < std::ssize(seen); ++k) EXPECT_EQ(seen[k], begin + k);
          if (end - begin >= 28) EXPECT_GT(kept, 0);  // a draw, not a constant
        }
}

}  // namespace
}  // namespace autonet
