#include "runtime/device.h"

#include <array>
#include <mutex>

#include "runtime/error.h"
#include "runtime/host_sync_guard.h"
#include "runtime/side_stream.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    AN_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos)
        << "bad device '" << text << "': expected cpu, cuda or cuda:N";
    return Device::cuda(std::stoi(digits));
  }
  AN_THROW() << "bad device '" << text << "': expected cpu, cuda or cuda:N";
}

#if AUTONET_WITH_CUDA

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

bool cuda_available(std::string* why_not) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (why_not) *why_not = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return false;
  }
  if (count == 0) {
    if (why_not) *why_not = "no CUDA device present";
    return false;
  }
  return true;
}

void synchronize(Device device) {
  check_no_host_sync("synchronize");
  if (!device.is_cuda()) return;
  join_side_work(device);  // the compute stream then covers the side stream's work too
  AN_CUDA_CHECK(cudaStreamSynchronize(cuda::compute_stream(device)));
}

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> devices;
  for (int i = 0; i < cuda_device_count(); ++i) {
    cudaDeviceProp prop{};
    AN_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    CudaDeviceInfo info{.index = i,
                        .name = prop.name,
                        .compute_major = prop.major,
                        .compute_minor = prop.minor,
                        .multiprocessors = prop.multiProcessorCount};
    AN_CUDA_CHECK(cudaSetDevice(i));
    AN_CUDA_CHECK(cudaMemGetInfo(&info.free_memory, &info.total_memory));
    devices.push_back(info);
  }
  return devices;
}

CudaVersions cuda_versions() {
  CudaVersions v;
  if (cudaRuntimeGetVersion(&v.runtime) != cudaSuccess) v.runtime = 0;
  if (cudaDriverGetVersion(&v.driver) != cudaSuccess) v.driver = 0;
  cudaGetLastError();
  return v;
}

namespace cuda {
namespace {
std::mutex context_mutex;
std::array<cudaStream_t, kMaxCudaDevices> streams{};
std::array<cublasHandle_t, kMaxCudaDevices> handles{}, side_handles{};

void check_index(Device device) {
  AN_CHECK(device.is_cuda()) << "expected a CUDA device, got " << device.str();
  AN_CHECK(device.index >= 0 && device.index < cuda_device_count())
      << "device " << device.str() << " does not exist (" << cuda_device_count() << " present)";
}
}  // namespace

// Where this thread's kernels launch, per device (null: the compute stream).
thread_local std::array<cudaStream_t, kMaxCudaDevices> kernel_streams{};

cudaStream_t compute_stream(Device device) {
  check_index(device);
  AN_CUDA_CHECK(cudaSetDevice(device.index));
  std::lock_guard lock(context_mutex);
  cudaStream_t& s = streams[device.index];
  if (!s) AN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

cudaStream_t stream(Device device) {
  const cudaStream_t compute = compute_stream(device);
  const cudaStream_t chosen = kernel_streams[device.index];
  return chosen ? chosen : compute;
}

void set_kernel_stream(Device device, cudaStream_t s) {
  check_index(device);
  kernel_streams[device.index] = s;
}

cublasHandle_t cublas_handle(Device device, cudaStream_t on) {
  const cudaStream_t compute = compute_stream(device);
  if (!on) on = stream(device);
  const bool side = on != compute;
  std::lock_guard lock(context_mutex);
  // Two handles: each has its workspace, which two streams running at once must not share.
  cublasHandle_t& h = (side ? side_handles : handles)[device.index];
  if (!h) {
    AN_CUBLAS_CHECK(cublasCreate(&h));
    AN_CUBLAS_CHECK(cublasSetStream(h, side ? on : compute));
    // Bitwise-reproducible results: no TF32, deterministic kernels.
    AN_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
    // A workspace of our own (32 MiB, the size NVIDIA advises for Hopper): cuBLAS then never
    // allocates inside a step, which keeps steps capturable as CUDA graphs.
    constexpr size_t kWorkspaceBytes = size_t{32} << 20;
    void* workspace = nullptr;
    AN_CUDA_CHECK(cudaMalloc(&workspace, kWorkspaceBytes));
    AN_CUBLAS_CHECK(cublasSetWorkspace(h, workspace, kWorkspaceBytes));
  }
  return h;
}
}  // namespace cuda

#else  // CPU-only build

int cuda_device_count() { return 0; }
bool cuda_available(std::string* why_not) {
  if (why_not) *why_not = "autonet was built without CUDA (AUTONET_WITH_CUDA=OFF)";
  return false;
}
std::vector<CudaDeviceInfo> cuda_devices() { return {}; }
CudaVersions cuda_versions() { return {}; }
void synchronize(Device device) {
  check_no_host_sync("synchronize");
  AN_CHECK(device.is_cpu()) << "autonet was built without CUDA; cannot use " << device.str();
}

#endif

}  // namespace autonet
