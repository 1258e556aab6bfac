// Shared plumbing of the kernel benchmarks: device selection, timing with CUDA events through
// Google Benchmark's manual time, bandwidth/FLOP counters, and the step benchmarks' profile.
#pragma once
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "runtime/allocator.h"
#include "runtime/cpu_isa.h"
#include "runtime/host_malloc.h"
#include "runtime/memory_census.h"
#include "runtime/op_profile.h"
#include "runtime/openmp_waiting.h"
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

// Arguments first .. first + count − 1 of the row as a shape (e.g. N, C, H, W after the device).
inline Shape shape_arg(const benchmark::State& state, int first, int count) {
  Shape shape;
  for (int i = first; i < first + count; ++i) shape.push_back(state.range(i));
  return shape;
}

// One row of a kernel benchmark: its arguments after the device.
using BenchRow = std::vector<int64_t>;

// Registers every row on each device (0 CPU, 1 CUDA) as arguments {dev, row...} named
// {"dev", names...}, timed by run_timed's device clock and shown in µs.
inline void device_rows(benchmark::internal::Benchmark* b, const std::vector<std::string>& names,
                        const std::vector<BenchRow>& rows, std::vector<int64_t> devices = {0, 1}) {
  for (int64_t device : devices)
    for (const BenchRow& row : rows) {
      BenchRow args{device};
      args.insert(args.end(), row.begin(), row.end());
      b->Args(args);
    }
  std::vector<std::string> arg_names{"dev"};
  arg_names.insert(arg_names.end(), names.begin(), names.end());
  b->ArgNames(arg_names)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

// The DARTS CNN search network's activations at batch 64 (N, C, H, W): C = 16 at 32×32, 32 at
// 16×16, 64 at 8×8.
inline const std::vector<BenchRow> kDartsActivations = {
    {64, 16, 32, 32}, {64, 32, 16, 16}, {64, 64, 8, 8}};

// device_rows over kDartsActivations, arguments named N, C, H, W.
inline void darts_activation_rows(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W"}, kDartsActivations);
}

// Rows {N, C, H, W, op..., stride} of a cell op, for each `op` argument list in turn: stride 1
// (normal cells) on every DARTS activation, stride 2 (reduction cells) on the two larger ones —
// reductions happen at 32 and 16 pixels.
inline std::vector<BenchRow> darts_cell_op_rows(const std::vector<BenchRow>& ops) {
  std::vector<BenchRow> rows;
  for (const BenchRow& op : ops)
    for (size_t s = 0; s < kDartsActivations.size(); ++s)
      for (int64_t stride : {1, 2}) {
        if (stride == 2 && s + 1 == kDartsActivations.size()) continue;
        BenchRow row = kDartsActivations[s];
        row.insert(row.end(), op.begin(), op.end());
        row.push_back(stride);
        rows.push_back(row);
      }
  return rows;
}

inline Tensor random_tensor(const Shape& shape, Device device, uint64_t seed = 1) {
  Tensor t = Tensor::empty(shape, DType::f32);
  fill_uniform(t, -1.0, 1.0, seed);
  return t.to(device);
}

// The device's copy bandwidth in bytes moved (read + written) per second, measured once per
// process: 256 MiB copied within the device (the host's memcpy on the CPU). Memory-bound rows
// report their achieved bandwidth as a share of it.
inline double copy_bandwidth(Device device) {
  static std::map<std::string, double> measured;
  const auto it = measured.find(device.str());
  if (it != measured.end()) return it->second;
  Tensor a = Tensor::empty({int64_t(64) << 20}, DType::f32, device), b = a.clone();
  fill(a, 1.0);
  b.copy_from(a);  // warm-up
  synchronize(device);
  constexpr int kCopies = 10;
  DeviceTimer timer(device);
  timer.start();
  for (int i = 0; i < kCopies; ++i) b.copy_from(a);
  const double seconds = timer.stop();
  return measured[device.str()] = 2.0 * a.nbytes() * kCopies / seconds;
}

// Rows below this many FLOPs per byte are memory-bound (an H100/H200's FP32 ridge is ~14).
constexpr double kMemoryBoundIntensity = 10.0;

// Times `work` with the device's own clock. On a GPU each iteration times kBackToBack calls
// launched back to back between two events (one synchronisation per batch, none per call), so a
// row measures the kernels, not the host's launch latency; on the CPU, one call per iteration.
// Reports bytes and FLOPs per second, the device's peak memory, and for memory-bound rows the
// achieved bandwidth as a share of the copy bandwidth (copy_bw%).
inline void run_timed(benchmark::State& state, Device device, const std::function<void()>& work,
                      double bytes_per_iter, double flops_per_iter = 0) {
  constexpr int kBackToBack = 20;
  const int calls = device.is_cuda() ? kBackToBack : 1;
  const double copy_bw = bytes_per_iter > 0 && flops_per_iter < kMemoryBoundIntensity * bytes_per_iter
                             ? copy_bandwidth(device)
                             : 0.0;
  work();  // warm-up: first-touch allocations, cuBLAS handle, caches
  synchronize(device);
  if (device.is_cuda()) cuda_reset_peak(device.index);
  DeviceTimer timer(device);
  double seconds = 0;
  for (auto _ : state) {
    timer.start();
    for (int i = 0; i < calls; ++i) work();
    const double per_call = timer.stop() / calls;
    seconds += per_call;
    state.SetIterationTime(per_call);
  }
  // Rates are over the manual (device) time; printed as e.g. bytes_per_second=96G/s.
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iter * state.iterations()));
  if (flops_per_iter > 0)
    state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter * state.iterations(),
                                                  benchmark::Counter::kIsRate);
  if (copy_bw > 0 && seconds > 0)
    state.counters["copy_bw%"] = 100.0 * bytes_per_iter * state.iterations() / seconds / copy_bw;
  if (device.is_cuda())
    state.counters["peak_MiB"] = cuda_memory_stats(device.index).peak_bytes / 1048576.0;
}

// --profile_table (the step benchmarks' own flag): print each row's step profile per op.
inline bool& print_profile_table() {
  static bool on = false;
  return on;
}

// --memory_table (the step benchmarks' own flag): print what was live at each row's memory peak,
// by producing op (runtime/memory_census.h).
inline bool& print_memory_table() {
  static bool on = false;
  return on;
}

// --time_table (the step benchmarks' own flag): after a CPU row's timed steps, time a few more
// op by op (a timed step profile, runtime/op_profile.h) and print where the step's time goes.
inline bool& print_time_table() {
  static bool on = false;
  return on;
}

// Where a CPU step's wall time goes, per kernel entry (its twin's own time, entries inside it
// apart), over `steps` steps after the row's timed ones: calls, ms and share of the step, and the
// rate the entry's counted bytes and FLOPs (runtime/op_profile.h) were moved at. What is left of
// the step is outside the kernels: autograd, allocation, the optimizers' bookkeeping.
inline void report_time_table(const std::string& title, const std::function<void()>& step,
                              int steps = 3) {
  OpProfile profile(/*timed=*/true);
  double step_seconds = 0;
  {
    OpProfileScope scope(profile);
    for (int i = 0; i < steps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      step();
      step_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  step_seconds /= steps;
  auto ops = profile.by_op();
  std::vector<std::pair<std::string, OpTotals>> rows(ops.begin(), ops.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::printf(
      "\nstep time by op (CPU twins, mean of %d steps): %s\n%-28s %7s %9s %6s %9s %7s %8s\n", steps,
      title.c_str(), "op", "calls", "ms", "share", "MB moved", "GB/s", "GFLOP/s");
  auto print_row = [&](const char* op, double calls, double seconds, double bytes, double flops) {
    std::printf("%-28s %7.0f %9.2f %5.1f%% %9.1f %7.2f %8.2f\n", op, calls, 1e3 * seconds,
                100.0 * seconds / step_seconds, bytes / 1e6,
                seconds > 0 ? bytes / seconds / 1e9 : 0.0,
                seconds > 0 ? flops / seconds / 1e9 : 0.0);
  };
  for (const auto& [op, t] : rows)
    print_row(op.c_str(), double(t.calls) / steps, t.seconds / steps,
              double(t.cost.bytes()) / steps, double(t.cost.flops) / steps);
  const OpTotals total = profile.total();
  print_row("all kernel entries", double(total.calls) / steps, total.seconds / steps,
            double(total.cost.bytes()) / steps, double(total.cost.flops) / steps);
  print_row("outside the kernels", 0, step_seconds - total.seconds / steps, 0, 0);
  print_row("step (wall clock)", 0, step_seconds, 0, 0);
  std::printf("\n");
}

// The census of the timed steps: the bytes live at their peak by label, then the rest of the
// allocator's peak (what existed before: weights, gradients, optimizer state, the batches).
inline void report_memory_census(const std::string& title, size_t allocator_peak) {
  const CensusReport census = memory_census_at_peak();
  std::printf("\nlive at the memory peak: %s\n%-28s %8s %10s\n", title.c_str(), "producer",
              "tensors", "MiB");
  for (const CensusRow& row : census.rows)
    std::printf("%-28s %8lld %10.1f\n", row.label.c_str(), static_cast<long long>(row.tensors),
                row.bytes / 1048576.0);
  std::printf("%-28s %8s %10.1f\n", "(allocated before the step)", "",
              (allocator_peak - std::min(allocator_peak, census.peak_bytes)) / 1048576.0);
  std::printf("%-28s %8s %10.1f\n\n", "total (the allocator's peak)", "",
              allocator_peak / 1048576.0);
}

// The model that turns a step profile into an H200 time for a step replayed from CUDA graphs:
// each launch costs kGraphLaunchSeconds, each byte 1 / kStepBandwidth. Fitted to the two graph
// steps measured on an H200 (docs/performance.md, "The step profile"); a prediction, not a
// measurement.
constexpr double kGraphLaunchSeconds = 2.37e-6;
constexpr double kStepBandwidth = 1.38e12;  // bytes/s achieved by the step's small kernels
// The same step if its kernels moved their bytes at the target for memory-bound kernels,
// 60% of the H200's ~4.3 TB/s copy bandwidth (pred_H200_ms_at_60pct_bw): what the counted bytes
// allow once the grouped kernels reach it, beside what the small kernels' fit predicts.
constexpr double kTargetBandwidth = 0.6 * 4.3e12;

// The step profile (runtime/op_profile.h) of one step as the row's counters: launches, MB_moved
// (bytes read + written), GFLOP, the predicted H200 time with graphs (pred_H200_ms, and at the
// bandwidth target: pred_H200_ms_at_60pct_bw) and host↔device transfers (GPU rows). Exact on any
// build: a CPU row counts what the CUDA twins launch.
inline void report_step_profile(benchmark::State& state, const std::string& title,
                                const OpProfile& profile) {
  const OpTotals total = profile.total();
  state.counters["launches"] = static_cast<double>(total.cost.launches);
  state.counters["MB_moved"] = total.cost.bytes() / 1e6;
  state.counters["GFLOP"] = total.cost.flops / 1e9;
  state.counters["pred_H200_ms"] =
      1e3 * (total.cost.launches * kGraphLaunchSeconds + total.cost.bytes() / kStepBandwidth);
  state.counters["pred_H200_ms_at_60pct_bw"] =
      1e3 * (total.cost.launches * kGraphLaunchSeconds + total.cost.bytes() / kTargetBandwidth);
  // Of them, the side stream's (weight gradients beside the input gradients on a GPU).
  state.counters["side_launches"] = static_cast<double>(total.cost.side_launches);
  state.counters["side_MB"] = total.cost.side_bytes / 1e6;
  if (profile.transfers() > 0)
    state.counters["transfers"] = static_cast<double>(profile.transfers());
  if (!print_profile_table()) return;
  auto ops = profile.by_op();
  std::vector<std::pair<std::string, OpTotals>> rows(ops.begin(), ops.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.cost.launches > b.second.cost.launches;
  });
  std::printf("\nstep profile: %s\n%-28s %8s %9s %10s %9s %6s %8s\n", title.c_str(), "op", "calls",
              "launches", "MB moved", "GFLOP", "side", "side MB");
  auto print_row = [](const char* op, const OpTotals& t, const char* end) {
    std::printf("%-28s %8lld %9lld %10.1f %9.3f %6lld %8.1f%s", op, static_cast<long long>(t.calls),
                static_cast<long long>(t.cost.launches), t.cost.bytes() / 1e6, t.cost.flops / 1e9,
                static_cast<long long>(t.cost.side_launches), t.cost.side_bytes / 1e6, end);
  };
  for (const auto& [op, t] : rows) print_row(op.c_str(), t, "\n");
  print_row("total", total, "\n\n");
}

// main() of the step benchmarks: Google Benchmark's, plus --profile_table, --memory_table and
// --time_table; OpenMP waits as in
// `autonet` (runtime/openmp_waiting.h) and freed host memory is kept as there
// (runtime/host_malloc.h), so the rows time the step its users run.
inline int step_benchmark_main(int argc, char** argv) {
  choose_openmp_waiting(argv);
  choose_host_malloc();
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--profile_table") == 0)
      print_profile_table() = true;
    else if (std::strcmp(argv[i], "--memory_table") == 0)
      print_memory_table() = true;
    else if (std::strcmp(argv[i], "--time_table") == 0)
      print_time_table() = true;
    else
      args.push_back(argv[i]);
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  // The CPU kernels' instruction set, in the report's context (a bad AUTONET_CPU_ISA stops here).
  try {
    benchmark::AddCustomContext("cpu_isa", cpu_isa_name(cpu_isa()));
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", argv[0], e.message());
    return 1;
  }
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Times one end-to-end training step per iteration (after `warmups` steps) with the device's own
// clock; reports `rate_name` = items_per_step per second (images/s, tokens/s) and the device's
// peak memory over the timed steps (the host allocator's on the CPU) plus `extra_bytes()`, memory
// the allocator's peak cannot see (a CUDA graph's pool: replays allocate nothing).
inline void run_steps(benchmark::State& state, const std::string& title, Device device,
                      const std::function<void()>& step, const char* rate_name,
                      double items_per_step, int warmups = 1,
                      const std::function<size_t()>& extra_bytes = nullptr) {
  // Warm-up: first-touch allocations, BLAS/cuBLAS state, optimizer buffers' first use. The first
  // (always eager) step is profiled; a graph replay would call no kernel entry.
  OpProfile profile;
  for (int i = 0; i < warmups; ++i) {
    if (i > 0) {
      step();
      continue;
    }
    OpProfileScope scope(profile);
    step();
  }
  report_step_profile(state, title, profile);
  synchronize(device);
  if (device.is_cuda())
    cuda_reset_peak(device.index);
  else
    host_reset_peak();
  if (print_memory_table()) memory_census_start(device);
  DeviceTimer timer(device);
  for (auto _ : state) {
    timer.start();
    step();
    state.SetIterationTime(timer.stop());
  }
  memory_census_stop();
  state.counters[rate_name] =
      benchmark::Counter(items_per_step * state.iterations(), benchmark::Counter::kIsRate);
  const MemoryStats memory =
      device.is_cuda() ? cuda_memory_stats(device.index) : host_memory_stats();
  const size_t extra = extra_bytes ? extra_bytes() : 0;
  state.counters["peak_MiB"] = (memory.peak_bytes + extra) / 1048576.0;
  if (print_memory_table()) report_memory_census(title, memory.peak_bytes);
  if (print_time_table() && !device.is_cuda()) report_time_table(title, step);
}

}  // namespace autonet::bench
