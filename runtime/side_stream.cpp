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

std::atomic<bool> enabled{true};
thread_local std::array<int, kMaxCudaDevices> scope_depth{};  // per device index
thread_local bool side_region = false;  // inside OnSideStream, side streams on

bool in_range(Device device) {
  return device.index >= 0 && device.index < kMaxCudaDevices;
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

bool in_side_region() {
  return side_region;
}

bool side_work_allowed(Device device) {
  return device.is_cuda() && in_range(device) && scope_depth[device.index] > 0 &&
         side_streams_enabled();
}

#if AUTONET_WITH_CUDA

namespace {

// How far behind a side launch the compute stream waits for it: at side launch n, for launch
// n − kJoinLag. With a lag of 2 a weight gradient overlaps its own op's dx and the next op's
// (with 1 only its own op's, often one short kernel); the price is the memory held back for two
// ops' side work instead of one.
constexpr int64_t kJoinLag = 2;

// A device's side stream and the events that order it against the compute stream: `fork`
// recorded on the compute stream before each side launch, and `done[n % kJoinLag]` on the side
// stream after launch n (the compute stream waits for it before that slot is recorded again).
struct SideStream {
  std::mutex mutex;
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr;
  std::array<cudaEvent_t, kJoinLag> done{};
  int64_t launched = 0;  // side launches made (numbered from 1)
  int64_t joined = 0;    // the last one the compute stream has waited for
};
std::array<SideStream, kMaxCudaDevices> side_streams;

// This thread's side launch under way on each device (between fork_side and end_side): kernels
// and nested side work inside it stay on the side stream, and a join there would wait for work
// not yet launched.
thread_local std::array<bool, kMaxCudaDevices> in_side_launch{};

// The compute stream waits for side launches up to n, and the releases only they could read
// return to the cache. The caller holds side.mutex.
void join_through(SideStream& side, Device device, int64_t n) {
  if (n <= side.joined) return;
  AN_CUDA_CHECK(cudaStreamWaitEvent(cuda::compute_stream(device), side.done[n % kJoinLag], 0));
  side.joined = n;
  cuda_side_joined(device.index, n);
}

// Starts side launch n: the compute stream waits for launch n − kJoinLag, the side stream for
// the compute stream's work so far. Returns the side stream, holding the device's side mutex
// until end_side.
cudaStream_t fork_side(Device device) {
  SideStream& side = side_streams[device.index];
  side.mutex.lock();
  try {
    if (!side.stream) {
      AN_CUDA_CHECK(cudaStreamCreateWithFlags(&side.stream, cudaStreamNonBlocking));
      AN_CUDA_CHECK(cudaEventCreateWithFlags(&side.fork, cudaEventDisableTiming));
      for (cudaEvent_t& done : side.done)
        AN_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    }
    const int64_t n = side.launched + 1;
    join_through(side, device, n - kJoinLag);  // frees the event slot launch n records into
    AN_CUDA_CHECK(cudaEventRecord(side.fork, cuda::compute_stream(device)));
    AN_CUDA_CHECK(cudaStreamWaitEvent(side.stream, side.fork, 0));
    side.launched = n;
    cuda_side_launched(device.index, n);
  } catch (...) {
    side.mutex.unlock();
    throw;
  }
  in_side_launch[device.index] = true;
  return side.stream;
}

// Marks where the side launch under way ends.
void end_side(Device device) {
  SideStream& side = side_streams[device.index];
  in_side_launch[device.index] = false;
  // A failed record is reported by the next checked CUDA call; the join still takes place.
  cudaEventRecord(side.done[side.launched % kJoinLag], side.stream);
  side.mutex.unlock();
}

}  // namespace

void join_side_work(Device device) {
  if (!device.is_cuda() || !in_range(device)) return;
  AN_CHECK(!in_side_launch[device.index])
      << "a wait for side-stream work on " << device.str()
      << " from inside side-stream work (a host read or synchronize() inside OnSideStream?)";
  SideStream& side = side_streams[device.index];
  std::lock_guard lock(side.mutex);
  join_through(side, device, side.launched);
}

void forget_side_work(Device device) {
  if (!device.is_cuda() || !in_range(device)) return;
  SideStream& side = side_streams[device.index];
  std::lock_guard lock(side.mutex);
  if (side.launched <= side.joined) return;
  side.joined = side.launched;
  cuda_side_joined(device.index, side.launched);
}

OnSideStream::OnSideStream(Device device) : device_(device), previous_region_(side_region) {
  if (side_work_allowed(device) && !in_side_launch[device.index]) {
    const cudaStream_t side = fork_side(device);
    try {
      cuda::set_kernel_stream(device, side);
    } catch (...) {
      end_side(device);
      throw;
    }
    forked_ = true;
  }
  side_region = side_region || side_streams_enabled();  // last: a throw above leaves it as it was
}

OnSideStream::~OnSideStream() {
  side_region = previous_region_;
  if (!forked_) return;
  cuda::set_kernel_stream(device_, nullptr);
  end_side(device_);
}

namespace cuda {

SideWork::SideWork(Device device, bool wanted) : device_(device), stream_(cuda::stream(device)) {
  // Inside a side launch already (an OnSideStream region): stream(device) is the side stream.
  if (!wanted || !side_work_allowed(device) || in_side_launch[device.index]) return;
  stream_ = fork_side(device);
  forked_ = true;
}

SideWork::~SideWork() {
  if (forked_) end_side(device_);
}

}  // namespace cuda

#else  // CPU-only build

void join_side_work(Device) {}
void forget_side_work(Device) {}
OnSideStream::OnSideStream(Device device) : device_(device), previous_region_(side_region) {
  side_region = side_region || side_streams_enabled();
}
OnSideStream::~OnSideStream() {
  side_region = previous_region_;
}

#endif

}  // namespace autonet
