// Memory: caching allocators for 64-byte aligned host blocks and for CUDA blocks.
//
// DARTS steps allocate the same sizes in the same order every step, so both allocators keep
// freed blocks in size bins and hand them back to the next request of the size. On the GPU that
// avoids cudaMalloc/cudaFree, whose implicit device syncs would keep a step from being captured
// by CUDA Graphs; on the host it skips the C library's bookkeeping of the ~3,500 tensors a small
// recurrent step frees (docs/performance.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace autonet {

struct MemoryStats {
  size_t current_bytes = 0;   // bytes handed out and not yet returned
  size_t peak_bytes = 0;      // max of current_bytes since the last reset
  size_t reserved_bytes = 0;  // bytes obtained from the driver (in use + cached)
  uint64_t allocations = 0;   // allocate() calls
  uint64_t cache_hits = 0;    // allocate() calls served from the cache
};

constexpr size_t kHostAlignment = 64;

// Host blocks up to kHostExactBlockLimit bytes are cached at their aligned size; larger ones at
// one of kHostBlockSizesPerOctave sizes per power of two (at most 12.5% over what was asked), so
// that sequences of varying length share blocks. The cache keeps a freed block while it holds
// no more than the most bytes ever in use at once, or kHostCacheFloor: a step's blocks wait for
// the next step, sizes seen once do not pile up. Pinned blocks are not cached.
inline constexpr size_t kHostExactBlockLimit = 4096;
inline constexpr size_t kHostBlockSizesPerOctave = 8;
inline constexpr size_t kHostCacheFloor = size_t{256} << 20;
size_t host_block_size(size_t bytes);

// `bytes` of release: what was asked of allocate. Stats: current and peak count the asked bytes
// (aligned) of live blocks, reserved the block sizes held, in use or cached.
void* host_allocate(size_t bytes, bool pinned);
void host_release(void* ptr, size_t bytes, bool pinned) noexcept;
MemoryStats host_memory_stats();
void host_reset_peak();
// Bytes of freed blocks the cache holds; host_empty_cache gives them back to the C library.
size_t host_cached_bytes();
void host_empty_cache();

// Sizes are rounded up to 512 bytes (small) or 2 MiB steps (large) so repeats hit the cache.
void* cuda_allocate(size_t bytes, int device);
void cuda_release(void* ptr, int device) noexcept;
MemoryStats cuda_memory_stats(int device);
void cuda_reset_peak(int device);
// Returns cached, unused blocks to the driver.
void cuda_empty_cache();

// Side work (runtime/side_stream.h), its launches numbered 1, 2, ...: after
// cuda_side_launched(device, n) blocks released on `device` are held back (still counted as in
// use; runtime/held_releases.h) instead of going back to the cache, where the compute stream could
// be given them while launches up to n may still read them; cuda_side_joined(device, n), called
// once the compute stream has waited for launch n, releases those only launches up to n could read.
void cuda_side_launched(int device, int64_t n);
void cuda_side_joined(int device, int64_t n);

// A private pool for CUDA Graph capture (runtime/cuda_graph.h). While a capture on `device` has
// a pool, cuda_allocate serves it from that pool (taking a block from the ordinary cache, or from
// the driver, when the pool has none of the size), and blocks of the pool return to it when
// released: a graph's blocks are never handed to anyone else while the pool lives, so a replay
// cannot overwrite memory given out after the capture. Blocks allocated before the capture and
// released during it are held back until the pool dies (the graph may still read them).
// Graphs that never run at the same time may share one pool. A dying pool gives everything back
// to the ordinary cache.
struct CudaGraphPool;
std::shared_ptr<CudaGraphPool> cuda_new_graph_pool(int device);
// Bytes of all blocks the pool owns (live or free): the memory its graphs keep for themselves.
size_t cuda_graph_pool_bytes(const std::shared_ptr<CudaGraphPool>& pool);
void cuda_begin_pool(int device, std::shared_ptr<CudaGraphPool> pool);
void cuda_end_pool(int device);

}  // namespace autonet
