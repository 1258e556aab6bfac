// How the C library keeps the host memory a step frees, chosen once for every program that runs
// steps (the `autonet` command line, the step benchmarks), as runtime/openmp_waiting.h chooses how
// OpenMP workers wait.
#pragma once
#include <cstddef>
#include <string>

namespace autonet {

// A step allocates and frees the same tensors every time. glibc serves blocks from 128 KiB up
// (its threshold grows with the blocks freed) with mmap and gives back the heap's free top above
// twice that threshold, so each step faults its memory in again page by page: ~35,000 faults per
// reduced CNN step, 3% of it on 2 cores; 5% of the small recurrent step. Fixed thresholds keep the
// freed memory for the next step (docs/performance.md).
inline constexpr std::size_t kHostMmapThreshold = std::size_t{32} << 20;  // 32 MiB
inline constexpr std::size_t kHostTrimThreshold = std::size_t{128} << 20;

// Sets glibc's mmap and trim thresholds to the values above, unless GLIBC_TUNABLES sets any
// glibc.malloc tunable (the user chose). Call it early in main.
void choose_host_malloc();

// What is in effect: "mmap from 32 MiB, trim above 128 MiB", "GLIBC_TUNABLES=..." or "the C
// library's default".
std::string host_malloc();

}  // namespace autonet
