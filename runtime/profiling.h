// Timing that is honest on both devices: CUDA events on the compute stream for GPU work (no
// host-side guesswork about asynchronous launches), a steady clock for CPU work.
#pragma once
#include <chrono>
#include <memory>

#include "runtime/device.h"

namespace autonet {

class DeviceTimer {
 public:
  explicit DeviceTimer(Device device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;
  void start();
  // Seconds since start(); waits for the device to finish the timed work.
  double stop();

 private:
  Device device_;
  std::chrono::steady_clock::time_point host_start_;
  struct Events;
  std::unique_ptr<Events> events_;
};

}  // namespace autonet
