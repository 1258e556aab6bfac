// The walks of kernels/plane_walk.h: a thread's share of a stride loop over planes' elements
// visits what the loop with divisions visits, in the same order.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/plane_walk.h"

namespace autonet::test {
namespace {

// The depthwise weight gradients' and the norms' walk over a chunk of samples.
TEST(PlaneWalk, VisitsTheStridedElementsInOrder) {
  for (int plane : {1, 5, 64, 300, 1024})
    for (int threads : {1, 7, 256})
      for (const auto& [n0, n1] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {3, 11}, {2, 2}})
        for (int tid = 0; tid < threads; ++tid) {
          std::vector<std::pair<int64_t, int>> walked, expected;
          for (PlaneWalk e(n0, n1, plane, tid, threads); e.valid(); e.next())
            walked.emplace_back(e.n, e.at);
          for (int64_t e = tid; e < (n1 - n0) * plane; e += threads)
            expected.emplace_back(n0 + e / plane, static_cast<int>(e % plane));
          ASSERT_EQ(walked, expected) << "plane " << plane << ", " << threads << " threads, tid "
                                      << tid << ", samples [" << n0 << ", " << n1 << ")";
        }
  int count = 0;  // an empty plane visits nothing (and ends)
  for (PlaneWalk e(0, 4, 0, 0, 256); e.valid(); e.next()) ++count;
  EXPECT_EQ(count, 0);
}

// The norms' elementwise kernels' channel of each element, c = (i / S) % C: one value a plane
// ([N, C]), one channel, steps shorter and longer than a plane and than C planes.
TEST(ChannelWalk, FollowsTheChannelOfEveryElement) {
  for (uint32_t C : {1u, 3u, 16u})
    for (uint32_t S : {1u, 7u, 64u, 1024u})
      for (uint32_t step : {1u, 5u, 256u, 3000u, 65536u})
        for (uint32_t first : {0u, 1u, 63u, 255u}) {
          const uint32_t n = 4 * C * S + 5;
          if (first >= n) continue;
          ChannelWalk channel(first, step, C, S);
          for (uint32_t i = first; i < n; i += step, channel.next())
            ASSERT_EQ(channel.c, (i / S) % C)
                << "C " << C << ", S " << S << ", step " << step << ", element " << i;
        }
}

}  // namespace
}  // namespace autonet::test
