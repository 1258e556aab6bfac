// What the caching allocator holds back while side-stream work may still read it
// (runtime/held_releases.h, runtime/side_stream.h): a block comes back once the compute stream has
// waited for every side launch made before its release, and not before.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/held_releases.h"

namespace autonet {
namespace {

void* block(int i) { return reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 * i)); }

TEST(HeldReleases, NothingIsHeldBeforeAnySideLaunch) {
  HeldReleases held;
  EXPECT_FALSE(held.holding());
  EXPECT_TRUE(held.joined_through(0).empty());
}

// Side launches with a lag of two, as side_stream.cpp makes them: launch n joins n − 2.
TEST(HeldReleases, ABlockComesBackWhenTheLaunchesBeforeItsReleaseAreJoined) {
  HeldReleases held;
  held.side_launched(1);
  ASSERT_TRUE(held.holding());
  held.hold(block(1));  // launch 1 may read it
  held.side_launched(2);
  held.hold(block(2));  // launches 1 and 2 may
  held.hold(block(3));
  EXPECT_EQ(held.joined_through(1), std::vector<void*>{block(1)});  // launch 3 joins 1
  EXPECT_TRUE(held.holding());
  held.side_launched(3);
  held.hold(block(4));
  EXPECT_EQ(held.joined_through(2), (std::vector<void*>{block(2), block(3)}));
  EXPECT_EQ(held.held(), 1u);
  EXPECT_EQ(held.joined_through(3), std::vector<void*>{block(4)});  // the scope's end
  EXPECT_FALSE(held.holding());  // released at once again
  EXPECT_EQ(held.held(), 0u);
}

TEST(HeldReleases, AnEarlierJoinReleasesNothingMore) {
  HeldReleases held;
  held.side_launched(4);
  held.hold(block(1));
  EXPECT_TRUE(held.joined_through(3).empty());  // launch 4 may still read it
  EXPECT_TRUE(held.joined_through(2).empty());  // joins never go back
  EXPECT_TRUE(held.holding());
  EXPECT_EQ(held.joined_through(4), std::vector<void*>{block(1)});
}

}  // namespace
}  // namespace autonet
