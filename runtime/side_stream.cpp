#include "runtime/side_stream.h"

#include <array>
#include <atomic>
#include <mutex>

#include "runtime/allocator.h"
#include "runtime/error.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {
namespace {

constexpr int kMaxDevices = 16;
std::atomic<bool> enabled{true};
thread_local std::array<int, kMaxDevices> scope_depth{};  // per device index

bool in_range(Device device) {
  return device.index >= 0 && device.index < kMaxDevices;
}

}  // namespace

void set_side_streams(bool on) {
  enabled.store(on);
}
bool side_streams_enabled() {
  return enabled.load();
}

SideStreamsSwitch::SideStreamsSwitch(bool on) : previous_(side_streams_enabled()) {
  set_side_streams(on);
}
SideStreamsSwitch::~SideStreamsSwitch() {
  set_side_streams(previous_);
}

SideStreamScope::SideStreamScope(Device device)
    : device_(device),
      previous_depth_(device.is_cuda() && in_range(device) ? scope_depth[device.index]++ : 0) {}

SideStreamScope::~SideStreamScope() {
  if (!device_.is_cuda() || !in_range(device_)) return;
  scope_depth[device_.index] = previous_depth_;
  if (previous_depth_ > 0) return;  // an enclosing scope joins
  try {
    join_side_work(device_);
  } catch (...) {
    // A failed join leaves the error on the device: the next checked CUDA call reports it.
  }
}

bool side_work_allowed(Device device) {
  return device.is_cuda() && in_range(device) && scope_depth[device.index] > 0 &&
         side_streams_enabled();
}

#if AUTONET_WITH_CUDA

namespace {

// A device's side stream and the two events that order it against the compute stream: `fork`
// recorded on the compute stream before side work, `done` on the side stream after it.
struct SideStream {
  std::mutex mutex;
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr, done = nullptr;
  bool outstanding = false;  // side work launched that the compute stream has not waited for
};
std::array<SideStream, kMaxDevices> side_streams;

// The compute stream waits for the side work so far, and the releases held back meanwhile
// return to the cache. The caller holds side.mutex.
void join_locked(SideStream& side, Device device) {
  if (!side.outstanding) return;
  AN_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(device), side.done, 0));
  side.outstanding = false;
  cuda_release_deferred(device.index);
}

}  // namespace

void join_side_work(Device device) {
  if (!device.is_cuda() || !in_range(device)) return;
  SideStream& side = side_streams[device.index];
  std::lock_guard lock(side.mutex);
  join_locked(side, device);
}

namespace cuda {

SideWork::SideWork(Device device) : device_(device), stream_(cuda::stream(device)) {
  if (!side_work_allowed(device)) return;
  SideStream& side = side_streams[device.index];
  side.mutex.lock();
  try {
    if (!side.stream) {
      AN_CUDA_CHECK(cudaStreamCreateWithFlags(&side.stream, cudaStreamNonBlocking));
      AN_CUDA_CHECK(cudaEventCreateWithFlags(&side.fork, cudaEventDisableTiming));
      AN_CUDA_CHECK(cudaEventCreateWithFlags(&side.done, cudaEventDisableTiming));
    }
    join_locked(side, device);  // the lagged join: the previous side work
    AN_CUDA_CHECK(cudaEventRecord(side.fork, stream_));
    AN_CUDA_CHECK(cudaStreamWaitEvent(side.stream, side.fork, 0));
    cuda_defer_releases(device.index);
  } catch (...) {
    side.mutex.unlock();
    throw;
  }
  stream_ = side.stream;
  forked_ = true;
}

SideWork::~SideWork() {
  if (!forked_) return;
  SideStream& side = side_streams[device_.index];
  // Outstanding even if the record failed: the next join then still returns the held releases
  // (the failure itself is reported by the next checked CUDA call).
  cudaEventRecord(side.done, side.stream);
  side.outstanding = true;
  side.mutex.unlock();
}

}  // namespace cuda

#else  // CPU-only build

void join_side_work(Device) {}

#endif

}  // namespace autonet
