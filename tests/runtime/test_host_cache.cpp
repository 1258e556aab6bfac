// The host allocator's cache (runtime/allocator.h): a freed block serves the next request of its
// size, the counts stay those of the tensors, and the cache gives memory back on request.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "runtime/allocator.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

TEST(HostCache, BlockSizesAreExactWhenSmallAndAtMostAnEighthOverWhenLarge) {
  EXPECT_EQ(host_block_size(0), kHostAlignment);
  EXPECT_EQ(host_block_size(1), kHostAlignment);
  EXPECT_EQ(host_block_size(4000), 4032u);
  EXPECT_EQ(host_block_size(4096), 4096u);
  EXPECT_EQ(host_block_size(4097), 4608u);  // 4096 + 4096/8
  EXPECT_EQ(host_block_size(1 << 20), size_t{1} << 20);
  EXPECT_EQ(host_block_size((1 << 20) + 1), (size_t{9} << 20) / 8);
  for (size_t bytes = 1; bytes < (size_t{64} << 20); bytes = bytes * 5 / 3 + 7) {
    const size_t block = host_block_size(bytes);
    EXPECT_GE(block, bytes);
    EXPECT_EQ(block % kHostAlignment, 0u) << bytes;
    if (bytes > kHostExactBlockLimit) EXPECT_LE(block, bytes + bytes / 8 + kHostAlignment) << bytes;
    EXPECT_EQ(host_block_size(block), block) << "a block size is its own class: " << bytes;
  }
  // Lengths that differ by a little share a block: a sequence of 35 steps and one of 36.
  EXPECT_EQ(host_block_size(35 * 32 * 300 * 4), host_block_size(36 * 32 * 300 * 4));
}

TEST(HostCache, AFreedBlockServesTheNextRequestOfItsSize) {
  host_empty_cache();
  const MemoryStats before = host_memory_stats();
  const void* first = nullptr;
  {
    Tensor t = Tensor::empty({3000});  // 12,000 bytes
    first = t.raw_data();
  }
  EXPECT_EQ(host_cached_bytes(), host_block_size(12000));
  {
    Tensor u = Tensor::empty({3001});  // the same block size
    EXPECT_EQ(u.raw_data(), first);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(u.raw_data()) % kHostAlignment, 0u);
    EXPECT_EQ(host_cached_bytes(), 0u);
    const MemoryStats during = host_memory_stats();
    EXPECT_EQ(during.cache_hits, before.cache_hits + 1);
    EXPECT_EQ(during.allocations, before.allocations + 2);
    // current counts what the tensor asked for, reserved the block.
    EXPECT_EQ(during.current_bytes, before.current_bytes + 12032);
    EXPECT_EQ(during.reserved_bytes, before.reserved_bytes + host_block_size(12004));
  }
  EXPECT_EQ(host_memory_stats().current_bytes, before.current_bytes);
  host_empty_cache();
  EXPECT_EQ(host_cached_bytes(), 0u);
  EXPECT_EQ(host_memory_stats().reserved_bytes, before.reserved_bytes);
}

TEST(HostCache, BlocksInUseAreNeverHandedOutTwice) {
  host_empty_cache();
  std::vector<std::pair<Tensor, float>> tensors;  // each with the value it was filled with
  for (int round = 0; round < 4; ++round) {
    for (int64_t n : {16, 1000, 1001, 70000, 16, 1000}) {
      const float value = static_cast<float>(round * 10 + tensors.size() % 10);
      tensors.emplace_back(Tensor::full({n}, value), value);
    }
    std::set<const void*> live;
    for (const auto& [t, value] : tensors) {
      live.insert(t.raw_data());
      const std::vector<float> values = t.to_vector<float>();  // nobody else wrote into it
      EXPECT_EQ(values.front(), value);
      EXPECT_EQ(values.back(), value);
    }
    EXPECT_EQ(live.size(), tensors.size());
    tensors.erase(tensors.begin(), tensors.begin() + 4);  // some go back to the cache
  }
  EXPECT_GT(host_memory_stats().cache_hits, 0u);
}

TEST(HostCache, SizesSeenOnceDoNotPileUp) {
  host_empty_cache();
  const MemoryStats before = host_memory_stats();
  // 40 blocks of 10 to 57 MiB, one alive at a time (never written: no memory is touched): 1.3 GiB
  // freed in all, while at most 57 MiB were ever in use at once (ctest runs a test per process).
  for (int64_t i = 0; i < 40; ++i) {
    Tensor t = Tensor::empty({(int64_t{10} << 20) / 4 + i * (int64_t{1200} << 10) / 4});
    EXPECT_LE(host_cached_bytes(), kHostCacheFloor) << i;
  }
  EXPECT_GT(host_cached_bytes(), size_t{100} << 20);  // the freed blocks are kept up to the floor
  EXPECT_EQ(host_memory_stats().reserved_bytes - before.reserved_bytes, host_cached_bytes());
  host_empty_cache();
  EXPECT_EQ(host_memory_stats().reserved_bytes, before.reserved_bytes);
}

}  // namespace
}  // namespace autonet
