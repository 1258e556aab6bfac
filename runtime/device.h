// Where a tensor lives: the host, or CUDA device n.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace autonet {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// Parses "cpu", "cuda", "cuda:1"; throws on anything else.
Device parse_device(const std::string& text);

// True when the library was built with CUDA and a device can be used; `why_not` says otherwise.
bool cuda_available(std::string* why_not = nullptr);
int cuda_device_count();
// The most CUDA devices the runtime keeps per-device state for (streams, handles, side streams).
constexpr int kMaxCudaDevices = 16;
constexpr bool built_with_cuda() {
#if AUTONET_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace autonet

namespace autonet {
// Waits for all work queued on `device` (a no-op on the CPU).
void synchronize(Device device);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  size_t total_memory = 0, free_memory = 0;
  int multiprocessors = 0;
};

struct CudaVersions {
  int runtime = 0;  // e.g. 13000 for 13.0
  int driver = 0;   // 0 when no driver is installed
};

std::vector<CudaDeviceInfo> cuda_devices();
CudaVersions cuda_versions();
}  // namespace autonet
