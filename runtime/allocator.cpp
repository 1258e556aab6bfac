#include "runtime/allocator.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"
#include "runtime/held_releases.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {
namespace {

void note_alloc(MemoryStats& s, size_t bytes) {
  s.current_bytes += bytes;
  if (s.current_bytes > s.peak_bytes) s.peak_bytes = s.current_bytes;
  ++s.allocations;
}

// The host cache: blocks freed by tensors wait in lists by block size for the next request of
// that size. `current` and `peak` count what tensors asked for (rounded to the alignment) as
// before the cache, so memory figures do not depend on it; `reserved` is what the C library
// holds for us, in use or cached.
struct HostCache {
  std::mutex mutex;
  MemoryStats stats;
  size_t high_water = 0;                                       // the most bytes ever in use at once
  size_t cached_bytes = 0;                                     // Σ block sizes in `free_blocks`
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // block size → blocks
};

HostCache& host_cache() {
  static HostCache* cache = new HostCache;  // never destroyed: tensors may die at exit
  return *cache;
}

size_t aligned_size(size_t bytes) {
  const size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  return rounded == 0 ? kHostAlignment : rounded;
}

void* pinned_or_null(size_t size) {
#if AUTONET_WITH_CUDA
  void* ptr = nullptr;
  if (cudaHostAlloc(&ptr, size, cudaHostAllocDefault) == cudaSuccess) return ptr;
  cudaGetLastError();  // no driver: fall back to pageable memory
#else
  (void)size;
#endif
  return nullptr;
}

void free_pinned_or_pageable(void* ptr) {
#if AUTONET_WITH_CUDA
  if (cudaFreeHost(ptr) == cudaSuccess) return;
  cudaGetLastError();
#endif
  std::free(ptr);
}

}  // namespace

size_t host_block_size(size_t bytes) {
  const size_t size = aligned_size(bytes);
  if (size <= kHostExactBlockLimit) return size;
  const size_t step = std::bit_floor(size) / kHostBlockSizesPerOctave;
  return (size + step - 1) / step * step;
}

void* host_allocate(size_t bytes, bool pinned) {
  HostCache& cache = host_cache();
  const size_t asked = aligned_size(bytes);
  // Pinned blocks (rare: staging for transfers) come from the driver and go back to it.
  const size_t block = pinned ? asked : host_block_size(bytes);
  void* ptr = nullptr;
  {
    std::lock_guard lock(cache.mutex);
    note_alloc(cache.stats, asked);
    cache.high_water = std::max(cache.high_water, cache.stats.current_bytes);
    if (!pinned) {
      auto it = cache.free_blocks.find(block);
      if (it != cache.free_blocks.end() && !it->second.empty()) {
        ptr = it->second.back();
        it->second.pop_back();
        cache.cached_bytes -= block;
        ++cache.stats.cache_hits;
        return ptr;
      }
    }
    cache.stats.reserved_bytes += block;
  }
  if (pinned) ptr = pinned_or_null(block);
  if (!ptr) ptr = std::aligned_alloc(kHostAlignment, block);
  if (!ptr) {
    std::lock_guard lock(cache.mutex);
    cache.stats.current_bytes -= asked;
    cache.stats.reserved_bytes -= block;
  }
  AN_CHECK(ptr != nullptr) << "host allocation of " << block << " bytes failed";
  return ptr;
}

void host_release(void* ptr, size_t bytes, bool pinned) noexcept {
  if (!ptr) return;
  HostCache& cache = host_cache();
  const size_t asked = aligned_size(bytes);
  const size_t block = pinned ? asked : host_block_size(bytes);
  {
    std::lock_guard lock(cache.mutex);
    cache.stats.current_bytes -= asked;
    // Kept while the cache holds no more than the most the process ever used at once (or the
    // floor): a step's blocks for the next step, but no unbounded hoard of sizes seen once.
    if (!pinned && cache.cached_bytes + block <= std::max(kHostCacheFloor, cache.high_water)) {
      try {
        cache.free_blocks[block].push_back(ptr);
        cache.cached_bytes += block;
        return;
      } catch (const std::bad_alloc&) {
        // no room for the list entry: give the block back below
      }
    }
    cache.stats.reserved_bytes -= block;
  }
  if (pinned)
    free_pinned_or_pageable(ptr);
  else
    std::free(ptr);
}

void host_empty_cache() {
  HostCache& cache = host_cache();
  std::lock_guard lock(cache.mutex);
  for (auto& [block, list] : cache.free_blocks)
    for (void* ptr : list) std::free(ptr);
  cache.free_blocks.clear();
  cache.stats.reserved_bytes -= cache.cached_bytes;
  cache.cached_bytes = 0;
}

size_t host_cached_bytes() {
  HostCache& cache = host_cache();
  std::lock_guard lock(cache.mutex);
  return cache.cached_bytes;
}

MemoryStats host_memory_stats() {
  HostCache& cache = host_cache();
  std::lock_guard lock(cache.mutex);
  return cache.stats;
}

void host_reset_peak() {
  HostCache& cache = host_cache();
  std::lock_guard lock(cache.mutex);
  cache.stats.peak_bytes = cache.stats.current_bytes;
}

// ---------------------------------------------------------------------------------------------
// CUDA caching allocator

#if AUTONET_WITH_CUDA
namespace {

constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t{2} << 20;
constexpr size_t kSmallLimit = size_t{1} << 20;

size_t round_cuda_size(size_t bytes) {
  const size_t step = bytes <= kSmallLimit ? kSmallStep : kLargeStep;
  return bytes == 0 ? kSmallStep : ((bytes + step - 1) / step) * step;
}

struct LiveBlock {
  size_t size = 0;
  std::weak_ptr<CudaGraphPool> pool;  // empty for ordinary blocks
  bool pooled = false;
};

struct DeviceCache {
  std::multimap<size_t, void*> free_blocks;          // size -> block, exact rounded size
  std::unordered_map<void*, LiveBlock> live_blocks;  // block -> size and owner
  std::shared_ptr<CudaGraphPool> capturing;          // the pool of the capture under way
  HeldReleases held;                                 // released while side work may read them
  MemoryStats stats;
};

// Recursive: a pool's destructor may run while a release holds the lock.
std::recursive_mutex cuda_mutex;
std::map<int, DeviceCache> caches;

void* cuda_malloc_or_trim(DeviceCache& cache, size_t size, int device) {
  void* ptr = nullptr;
  AN_CUDA_CHECK(cudaSetDevice(device));
  cudaError_t status = cudaMalloc(&ptr, size);
  if (status == cudaErrorMemoryAllocation) {
    // Give the cache back to the driver and try once more before reporting out-of-memory.
    cudaGetLastError();
    for (auto& [s, p] : cache.free_blocks) {
      cudaFree(p);
      cache.stats.reserved_bytes -= s;
    }
    cache.free_blocks.clear();
    status = cudaMalloc(&ptr, size);
  }
  AN_CHECK(status == cudaSuccess) << "cudaMalloc of " << size << " bytes on cuda:" << device
                                  << " failed: " << cudaGetErrorString(status) << " (in use "
                                  << cache.stats.current_bytes << " bytes)";
  cache.stats.reserved_bytes += size;
  return ptr;
}

void* take_free(std::multimap<size_t, void*>& free_blocks, size_t size) {
  auto it = free_blocks.find(size);
  if (it == free_blocks.end()) return nullptr;
  void* ptr = it->second;
  free_blocks.erase(it);
  return ptr;
}

}  // namespace

struct CudaGraphPool {
  int device = 0;
  std::multimap<size_t, void*> free_blocks;
  std::vector<std::pair<size_t, void*>> held_back;  // ordinary blocks released during capture
  size_t bytes = 0;                                 // every block the pool owns

  ~CudaGraphPool() {
    std::lock_guard lock(cuda_mutex);
    DeviceCache& cache = caches[device];
    for (auto& [size, ptr] : free_blocks) cache.free_blocks.emplace(size, ptr);
    for (auto& [size, ptr] : held_back) cache.free_blocks.emplace(size, ptr);
  }
};

std::shared_ptr<CudaGraphPool> cuda_new_graph_pool(int device) {
  auto pool = std::make_shared<CudaGraphPool>();
  pool->device = device;
  return pool;
}

size_t cuda_graph_pool_bytes(const std::shared_ptr<CudaGraphPool>& pool) {
  std::lock_guard lock(cuda_mutex);
  return pool ? pool->bytes : 0;
}

void cuda_begin_pool(int device, std::shared_ptr<CudaGraphPool> pool) {
  std::lock_guard lock(cuda_mutex);
  DeviceCache& cache = caches[device];
  AN_CHECK(!cache.capturing) << "cuda:" << device << " is already capturing into a graph pool";
  AN_CHECK(pool && pool->device == device) << "graph pool belongs to another device";
  cache.capturing = std::move(pool);
}

void cuda_end_pool(int device) {
  std::lock_guard lock(cuda_mutex);
  caches[device].capturing.reset();  // the pool lives on in its graphs
}

void* cuda_allocate(size_t bytes, int device) {
  const size_t size = round_cuda_size(bytes);
  std::lock_guard lock(cuda_mutex);
  DeviceCache& cache = caches[device];
  CudaGraphPool* pool = cache.capturing.get();
  bool hit = true;
  void* ptr = pool ? take_free(pool->free_blocks, size) : nullptr;
  if (!ptr) {
    // A free ordinary block, else a new one; during a capture it joins the pool (nothing
    // references it, and the work that used it was queued on this stream before any replay).
    ptr = take_free(cache.free_blocks, size);
    if (!ptr) {
      ptr = cuda_malloc_or_trim(cache, size, device);
      hit = false;
    }
    if (pool) pool->bytes += size;
  }
  if (hit) ++cache.stats.cache_hits;
  cache.live_blocks[ptr] = LiveBlock{size, cache.capturing, pool != nullptr};
  note_alloc(cache.stats, size);
  return ptr;
}

namespace {

// Gives a live block back: to its graph pool, held back by the capture under way, or to the cache.
void release_now(DeviceCache& cache, void* ptr) {
  auto it = cache.live_blocks.find(ptr);
  if (it == cache.live_blocks.end()) return;
  const LiveBlock block = it->second;
  cache.live_blocks.erase(it);
  cache.stats.current_bytes -= block.size;
  if (std::shared_ptr<CudaGraphPool> pool = block.pool.lock()) {
    pool->free_blocks.emplace(block.size, ptr);
  } else if (!block.pooled && cache.capturing) {
    cache.capturing->held_back.emplace_back(block.size, ptr);
  } else {
    cache.free_blocks.emplace(block.size, ptr);
  }
}

}  // namespace

void cuda_release(void* ptr, int device) noexcept {
  if (!ptr) return;
  std::lock_guard lock(cuda_mutex);
  DeviceCache& cache = caches[device];
  if (cache.held.holding() && cache.live_blocks.count(ptr)) {
    cache.held.hold(ptr);
    return;
  }
  release_now(cache, ptr);
}

void cuda_side_launched(int device, int64_t n) {
  std::lock_guard lock(cuda_mutex);
  caches[device].held.side_launched(n);
}

void cuda_side_joined(int device, int64_t n) {
  std::lock_guard lock(cuda_mutex);
  DeviceCache& cache = caches[device];
  for (void* ptr : cache.held.joined_through(n)) release_now(cache, ptr);
}

MemoryStats cuda_memory_stats(int device) {
  std::lock_guard lock(cuda_mutex);
  return caches[device].stats;
}

void cuda_reset_peak(int device) {
  std::lock_guard lock(cuda_mutex);
  auto& s = caches[device].stats;
  s.peak_bytes = s.current_bytes;
}

void cuda_empty_cache() {
  std::lock_guard lock(cuda_mutex);
  for (auto& [device, cache] : caches) {
    cudaSetDevice(device);
    cudaDeviceSynchronize();
    for (auto& [size, ptr] : cache.free_blocks) {
      cudaFree(ptr);
      cache.stats.reserved_bytes -= size;
    }
    cache.free_blocks.clear();
  }
}

#else  // CPU-only build

void* cuda_allocate(size_t, int) { AN_THROW() << "autonet was built without CUDA"; }
void cuda_release(void*, int) noexcept {}
void cuda_side_launched(int, int64_t) {}
void cuda_side_joined(int, int64_t) {}
MemoryStats cuda_memory_stats(int) { return {}; }
void cuda_reset_peak(int) {}
void cuda_empty_cache() {}
struct CudaGraphPool {};
std::shared_ptr<CudaGraphPool> cuda_new_graph_pool(int) {
  AN_THROW() << "autonet was built without CUDA";
}
size_t cuda_graph_pool_bytes(const std::shared_ptr<CudaGraphPool>&) { return 0; }
void cuda_begin_pool(int, std::shared_ptr<CudaGraphPool>) {
  AN_THROW() << "autonet was built without CUDA";
}
void cuda_end_pool(int) {}

#endif

}  // namespace autonet
