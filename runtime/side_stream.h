// A second CUDA stream per device for work off the critical path. In backward, a weight gradient
// is read by nothing until the optimizer, while every later kernel waits for the input gradients:
// a weight-gradient kernel launched on the side stream runs beside them (a captured graph gets
// two branches). In forward, a search cell's two inputs run their pipelines side by side until
// node 0 sums them (OnSideStream). On the CPU there is one order of work and none of this does
// anything.
//
// Side work is launched only inside a SideStreamScope (autograd's backward opens one), and only
// while side streams are on (the default; off, everything runs on the compute stream: the
// reference the tests compare with). Ordering, for each side launch (a `cuda::SideWork` in a
// kernel, runtime/cuda_context.h, or an OnSideStream region):
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
// to the cache. A no-op without outstanding side work (always on the CPU). An error inside a
// side launch (it would wait for work not yet launched).
void join_side_work(Device device);

// After a capture that failed (runtime/cuda_graph.cpp): the side launches recorded in it will
// never run, so they count as joined and the releases held back for them return to the cache.
// Without this the next join would wait for an event of the discarded capture. A no-op without
// outstanding side work (always on the CPU).
void forget_side_work(Device device);

// While alive, every kernel this thread launches on `device` goes to the side stream, as one side
// launch (when side_work_allowed(device); else nothing changes): work independent of what the
// compute stream does next, like the forward pipeline of a cell's second input beside its
// first's. What it writes may be read on the compute stream only after a join (the enclosing
// scope's end, or join_side_work). No host read or synchronize() inside.
// Also, on any device while side streams are on, the step profile counts the kernel entries
// called inside as side work (runtime/op_profile.h), as a GPU would run them.
class OnSideStream {
 public:
  explicit OnSideStream(Device device);
  ~OnSideStream();
  OnSideStream(const OnSideStream&) = delete;
  OnSideStream& operator=(const OnSideStream&) = delete;

 private:
  Device device_;
  bool forked_ = false;
  bool previous_region_;
};

// True inside an OnSideStream region while side streams are on (any device).
bool in_side_region();

}  // namespace autonet
