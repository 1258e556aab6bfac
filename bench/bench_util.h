// Shared plumbing of the kernel benchmarks: device selection, timing with CUDA events through
// Google Benchmark's manual time, and bandwidth/FLOP counters.
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "runtime/allocator.h"
#include "runtime/profiling.h"
#include "runtime/tensor.h"

namespace autonet::bench {

// Device for a benchmark argument: 0 = CPU, 1 = CUDA. Returns false (and marks the run skipped)
// when the device is not usable here.
inline bool pick_device(benchmark::State& state, int64_t arg, Device* device) {
  if (arg == 0) {
    *device = Device::cpu();
    return true;
  }
  std::string why;
  if (!cuda_available(&why)) {
    state.SkipWithError(("CUDA benchmark skipped: " + why).c_str());
    return false;
  }
  *device = Device::cuda(0);
  return true;
}

inline Tensor random_tensor(const Shape& shape, Device device, uint64_t seed = 1) {
  Tensor t = Tensor::empty(shape, DType::f32);
  fill_uniform(t, -1.0, 1.0, seed);
  return t.to(device);
}

// Times `work` per iteration with the device's own clock; reports bytes and flops per second and
// the device's peak memory.
inline void run_timed(benchmark::State& state, Device device, const std::function<void()>& work,
                      double bytes_per_iter, double flops_per_iter = 0) {
  work();  // warm-up: first-touch allocations, cuBLAS handle, caches
  synchronize(device);
  if (device.is_cuda()) cuda_reset_peak(device.index);
  DeviceTimer timer(device);
  for (auto _ : state) {
    timer.start();
    work();
    state.SetIterationTime(timer.stop());
  }
  // Rates are over the manual (device) time; printed as e.g. bytes_per_second=96G/s.
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iter * state.iterations()));
  if (flops_per_iter > 0)
    state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter * state.iterations(),
                                                  benchmark::Counter::kIsRate);
  if (device.is_cuda())
    state.counters["peak_MiB"] = cuda_memory_stats(device.index).peak_bytes / 1048576.0;
}

// Times one end-to-end training step per iteration (after `warmups` steps) with the device's own
// clock; reports `rate_name` = items_per_step per second (images/s, tokens/s) and the device's
// peak memory over the timed steps (the host allocator's on the CPU) plus `extra_bytes()`, memory
// the allocator's peak cannot see (a CUDA graph's pool: replays allocate nothing).
inline void run_steps(benchmark::State& state, Device device, const std::function<void()>& step,
                      const char* rate_name, double items_per_step, int warmups = 1,
                      const std::function<size_t()>& extra_bytes = nullptr) {
  // Warm-up: first-touch allocations, BLAS/cuBLAS state, optimizer buffers' first use.
  for (int i = 0; i < warmups; ++i) step();
  synchronize(device);
  if (device.is_cuda())
    cuda_reset_peak(device.index);
  else
    host_reset_peak();
  DeviceTimer timer(device);
  for (auto _ : state) {
    timer.start();
    step();
    state.SetIterationTime(timer.stop());
  }
  state.counters[rate_name] =
      benchmark::Counter(items_per_step * state.iterations(), benchmark::Counter::kIsRate);
  const MemoryStats memory =
      device.is_cuda() ? cuda_memory_stats(device.index) : host_memory_stats();
  const size_t extra = extra_bytes ? extra_bytes() : 0;
  state.counters["peak_MiB"] = (memory.peak_bytes + extra) / 1048576.0;
}

}  // namespace autonet::bench
