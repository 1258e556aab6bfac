// A warp per moment run (kernels/channel_moments.h): a kernel that forms per-run sums of what it
// writes gives each run of kMomentRun positions of one plane to one warp, two positions a lane
// (begin + lane and begin + lane + 32), so a run's sums are one warp reduction in registers. The
// stencil group's forward (its outputs' moments) and the depthwise group's dx kernel (the folded
// batch norm's gradient sums) run this way.
#pragma once
#include <cstdint>

#include "kernels/channel_moments.h"
#include "kernels/cuda/block_partials.cuh"  // warp_sum

namespace autonet::cuda {

constexpr int kWarp = 32;
static_assert(kMomentRun == 2 * kWarp, "a warp's lanes hold a moment run, two values each");

// Run `run` of plane `plane`: its first position in the plane and its length (the last run of a
// plane may be short).
struct RunUnit {
  int64_t plane;
  int run, runs, begin, count;  // runs: per plane
  // The part (kernels/channel_moments.h) this run is of a tensor of C channels: [P, C, ·] row.
  __device__ int64_t part_row(int C) const { return ((plane / C) * runs + run) * C + plane % C; }
  // Whether the lane's half-th position lies in the run.
  __device__ bool holds(int lane, int half) const { return lane + kWarp * half < count; }
  __device__ int position(int lane, int half) const { return begin + lane + kWarp * half; }
};

// Calls f(unit) for every unit < units, one warp per unit in a grid-stride loop over warps; all
// lanes of a warp see the same units, so the shuffles inside f see the whole warp. Needs
// blockDim.x a multiple of kWarp.
template <class F>
__device__ void for_each_warp_unit(int64_t units, F&& f) {
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t unit = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kWarp; unit < units;
       unit += warps)
    f(unit);
}

// Unit `unit` of planes cut into runs of a plane of `plane_size` positions.
__device__ inline RunUnit run_unit(int64_t unit, int plane_size) {
  constexpr int kRun = static_cast<int>(kMomentRun);
  const int runs = (plane_size + kRun - 1) / kRun;
  const int64_t plane = unit / runs;
  const int run = static_cast<int>(unit - plane * runs), begin = run * kRun;
  return {plane, run, runs, begin, min(kRun, plane_size - begin)};
}

// Calls f(u, pl) for every run of positions [begin, end) (begin a multiple of kMomentRun) of the
// block's `planes` planes from plane0 on, those below plane_count, a warp per run: the tiled
// kernels (stencil_tile.cuh) sum the runs of values they keep in shared memory this way. All
// lanes of a warp see the same runs.
template <class F>
__device__ void for_each_block_run(int64_t plane0, int planes, int64_t plane_count, int begin,
                                   int end, int plane_size, F&& f) {
  constexpr int kRun = static_cast<int>(kMomentRun);
  const int runs = (end - begin + kRun - 1) / kRun, runs_per_plane = (plane_size + kRun - 1) / kRun;
  for (int unit = threadIdx.x / kWarp; unit < planes * runs; unit += blockDim.x / kWarp) {
    const int pl = unit / runs;
    const int64_t plane = plane0 + pl;
    if (plane >= plane_count) break;  // later units are past the last plane too
    f(run_unit(plane * runs_per_plane + begin / kRun + unit % runs, plane_size), pl);
  }
}

// The warp's total of v, in every lane.
__device__ inline double warp_total(double v) { return __shfl_sync(0xffffffffu, warp_sum(v), 0); }

// The moment part of a run whose values v[half] the lanes hold: count, mean and M2 around the
// mean (two sweeps over the registers), written by lane 0 to part[0..2].
template <class T>
__device__ void write_run_moments(const RunUnit& u, const T (&v)[2], double* part) {
  const int lane = threadIdx.x % kWarp;
  double sum = 0;
  for (int half = 0; half < 2; ++half)
    if (u.holds(lane, half)) sum += double(v[half]);
  const double mean = warp_total(sum) / u.count;
  double m2 = 0;
  for (int half = 0; half < 2; ++half) {
    const double d = double(v[half]) - mean;
    if (u.holds(lane, half)) m2 += d * d;
  }
  m2 = warp_sum(m2);
  if (lane == 0) part[0] = u.count, part[1] = mean, part[2] = m2;
}

}  // namespace autonet::cuda
