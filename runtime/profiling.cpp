#include "runtime/profiling.h"

#include "runtime/error.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {

#if AUTONET_WITH_CUDA
struct DeviceTimer::Events {
  cudaEvent_t start = nullptr, stop = nullptr;
};
#else
struct DeviceTimer::Events {};
#endif

DeviceTimer::DeviceTimer(Device device) : device_(device) {
  if (!device.is_cuda()) return;
#if AUTONET_WITH_CUDA
  events_ = std::make_unique<Events>();
  cuda::stream(device);  // makes the device current
  AN_CUDA_CHECK(cudaEventCreate(&events_->start));
  AN_CUDA_CHECK(cudaEventCreate(&events_->stop));
#else
  AN_THROW() << "autonet was built without CUDA; cannot time " << device.str();
#endif
}

DeviceTimer::~DeviceTimer() {
#if AUTONET_WITH_CUDA
  if (events_) {
    cudaEventDestroy(events_->start);
    cudaEventDestroy(events_->stop);
  }
#endif
}

void DeviceTimer::start() {
#if AUTONET_WITH_CUDA
  if (events_) {
    AN_CUDA_CHECK(cudaEventRecord(events_->start, cuda::compute_stream(device_)));
    return;
  }
#endif
  host_start_ = std::chrono::steady_clock::now();
}

double DeviceTimer::stop() {
#if AUTONET_WITH_CUDA
  if (events_) {
    AN_CUDA_CHECK(cudaEventRecord(events_->stop, cuda::compute_stream(device_)));
    AN_CUDA_CHECK(cudaEventSynchronize(events_->stop));
    float ms = 0;
    AN_CUDA_CHECK(cudaEventElapsedTime(&ms, events_->start, events_->stop));
    return ms * 1e-3;
  }
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start_).count();
}

}  // namespace autonet
