// A second CUDA stream per device for work off the critical path. In backward, a weight gradient
// is read by nothing until the optimizer, while every later kernel waits for the input gradients:
// a weight-gradient kernel launched on the side stream runs beside them (a captured graph gets
// two branches). On the CPU there is one order of work and none of this does anything.
//
// Side work is launched only inside a SideStreamScope (autograd's backward opens one), and only
// while side streams are on (the default; off, everything runs on the compute stream: the
// reference the tests compare with). Ordering, with `cuda::SideWork` (runtime/cuda_context.h):
//  - a side launch waits for everything launched on the compute stream before it;
//  - side launch n first makes the compute stream wait for launch n − 2 (a lagged join), so side
//    work overlaps the compute-stream work up to the side launch after next;
//  - the scope's end joins the last one: after the scope the compute stream has waited for all
//    of it, so every host read, copy and synchronize() sees it done.
// Memory: the caching allocator gives a freed block out again on the compute stream at once,
// which is safe while one stream runs everything. A block freed while side work is outstanding
// may still be read by that work, so its release is held back until the compute stream has waited
// for every side launch made before it (runtime/held_releases.h); it counts as in use until then.
#pragma once
#include "runtime/device.h"

namespace autonet {

// Process-wide switch, on by default.
void set_side_streams(bool enabled);
bool side_streams_enabled();

// Sets the switch for its lifetime, then restores it (benchmarks and tests of the one-stream
// reference).
class SideStreamsSwitch {
 public:
  explicit SideStreamsSwitch(bool enabled);
  ~SideStreamsSwitch();
  SideStreamsSwitch(const SideStreamsSwitch&) = delete;
  SideStreamsSwitch& operator=(const SideStreamsSwitch&) = delete;

 private:
  bool previous_;
};

// Within the scope this thread's kernels on `device` may launch side work; at its end the
// compute stream waits for all of it. Scopes nest (only the outermost one's end joins).
class SideStreamScope {
 public:
  explicit SideStreamScope(Device device);
  ~SideStreamScope();
  SideStreamScope(const SideStreamScope&) = delete;
  SideStreamScope& operator=(const SideStreamScope&) = delete;

 private:
  Device device_;
  int previous_depth_;
};

// True when a kernel on `device` called from this thread may launch side work now.
bool side_work_allowed(Device device);

// The compute stream of `device` waits for every side launch so far; releases held back return
// to the cache. A no-op without outstanding side work (always on the CPU).
void join_side_work(Device device);

}  // namespace autonet
