// CUDA plumbing shared by runtime/ and kernels/cuda/: checked calls, the per-device compute stream
// and cuBLAS handle. Only runtime/ and kernels/cuda/ include this header (it pulls in CUDA).
#pragma once
#if !AUTONET_WITH_CUDA
#error "runtime/cuda_context.h needs a CUDA build"
#endif
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "runtime/device.h"
#include "runtime/error.h"

#define AN_CUDA_CHECK(expr)                                                            \
  do {                                                                                 \
    const cudaError_t an_status_ = (expr);                                             \
    AN_CHECK(an_status_ == cudaSuccess) << #expr << ": " << cudaGetErrorName(an_status_) \
                                        << " (" << cudaGetErrorString(an_status_) << ")"; \
  } while (0)

#define AN_CUBLAS_CHECK(expr)                                                              \
  do {                                                                                     \
    const cublasStatus_t an_status_ = (expr);                                              \
    AN_CHECK(an_status_ == CUBLAS_STATUS_SUCCESS) << #expr << ": "                         \
                                                  << cublasGetStatusString(an_status_);    \
  } while (0)

// After every kernel launch: reports bad launch configurations at the launch site.
#define AN_CUDA_CHECK_LAUNCH() AN_CUDA_CHECK(cudaGetLastError())

namespace autonet::cuda {

// Makes `device` current and returns its compute stream (created on first use, non-blocking).
cudaStream_t compute_stream(Device device);
// Makes `device` current and returns the stream this thread's kernels launch on now: the compute
// stream, or the side stream inside an OnSideStream region (runtime/side_stream.h).
cudaStream_t stream(Device device);
// Where this thread's kernels on `device` launch from now on (nullptr: the compute stream); set
// by OnSideStream only.
void set_kernel_stream(Device device, cudaStream_t s);
// The device's cuBLAS handle for work on `on` (default: stream(device)): the compute stream's, or
// a second handle, with a workspace of its own, for the side stream (runtime/side_stream.h).
cublasHandle_t cublas_handle(Device device, cudaStream_t on = nullptr);

// Where a kernel launches work that nothing reads before the enclosing SideStreamScope ends
// (weight gradients; runtime/side_stream.h): the side stream when side_work_allowed(device), else
// the compute stream. The constructor orders the side stream after the compute stream's work so
// far (having made the compute stream wait for the side work two launches back); the destructor
// marks where this side work ends. Launch the side work before the critical-path kernels it can run
// beside. One SideWork at a time per device (it holds the device's side-stream lock).
class SideWork {
 public:
  // wanted = false: the compute stream, whatever the scope.
  explicit SideWork(Device device, bool wanted = true);
  ~SideWork();
  SideWork(const SideWork&) = delete;
  SideWork& operator=(const SideWork&) = delete;
  cudaStream_t stream() const { return stream_; }

 private:
  Device device_;
  cudaStream_t stream_ = nullptr;
  bool forked_ = false;
};

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(int64_t n, int block = 256) {
  const int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace autonet::cuda
