// The step profile: what a piece of work asks of the device, counted (not timed) at each kernel
// family's public entry. Per entry name (e.g. "pool2d_backward"): calls, kernel launches as the
// CUDA twin issues them (kernels, cuBLAS calls, memsets and device-to-device copies), the bytes
// those kernels read and write (each kernel reading its inputs and writing its outputs once: the
// least traffic of the work as it is split into kernels) and the arithmetic (FLOPs, a multiply-add
// counts 2). A CPU build counts exactly what a CUDA build launches, so the profile of a search step
// is measurable on any machine; docs/performance.md turns it into a predicted GPU time.
//
// A profile made `timed` also measures, on the host's steady clock, the time each entry spends in
// its CPU twin (TwinTimer, which kernels/dispatch.h's AN_ON_CPU holds around the twin's call): the
// measured side of the same table. Entries called inside another's twin count apart (each
// entry's own time); a CUDA twin returns before its kernels finish, so a GPU's times come from
// its own profiler (scripts/gpu-kernel-times), not from here.
//
// Zero cost when off: an entry reads one thread-local pointer and computes nothing more.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "runtime/side_stream.h"

namespace autonet {

// What one call of a kernel entry costs.
struct OpCost {
  int64_t launches = 0;
  int64_t bytes_read = 0, bytes_written = 0;
  int64_t flops = 0;
  // Of the launches, calls into cuBLAS: each counts one launch, though cuBLAS may run a call as
  // two kernels (a split-K product, then its reduction), its own choice at run time.
  int64_t library_calls = 0;
  // Of the launches and bytes, those on the side stream (runtime/side_stream.h: weight gradients
  // beside the input gradients, off the critical path where a GPU runs the two side by side).
  int64_t side_launches = 0, side_bytes = 0;

  OpCost& operator+=(const OpCost& other);
  int64_t bytes() const { return bytes_read + bytes_written; }
  // All of it on the side stream.
  OpCost& on_side_stream() {
    side_launches = launches;
    side_bytes = bytes();
    return *this;
  }
};

struct OpTotals {
  int64_t calls = 0;
  OpCost cost;
  double seconds = 0;  // in the CPU twins, when the profile is timed
};

// Totals of the kernel entries called while the profile was active; thread-safe.
class OpProfile {
 public:
  explicit OpProfile(bool timed = false) : timed_(timed) {}

  void add(const std::string& op, const OpCost& cost);
  // Time spent in op's CPU twin (TwinTimer).
  void add_time(const std::string& op, double seconds);
  bool timed() const { return timed_; }
  // A copy between host and device memory (CUDA builds only; a CPU build has none): not a launch
  // of a captured step, but a stall for an eager one.
  void add_transfer(int64_t bytes);

  std::map<std::string, OpTotals> by_op() const;
  OpTotals total() const;
  int64_t transfers() const;
  int64_t transfer_bytes() const;
  void clear();

  // The profile the calling thread's kernel entries report to; null when none is active.
  static OpProfile* active() { return active_; }

 private:
  friend class OpProfileScope;
  friend class TwinTimer;
  template <class CostFn>
  friend void count_op(const char* op, CostFn&& cost);
  static thread_local OpProfile* active_;
  // The entry that counted itself last on this thread: the name its twin's time goes to.
  static thread_local const char* entry_;
  const bool timed_;
  mutable std::mutex mutex_;
  std::map<std::string, OpTotals> ops_;
  int64_t transfers_ = 0, transfer_bytes_ = 0;
};

// While alive, the calling thread's kernel entries report to `profile`. Scopes nest: the inner one
// counts until it ends, then the outer one again.
class OpProfileScope {
 public:
  explicit OpProfileScope(OpProfile& profile) : previous_(OpProfile::active_) {
    OpProfile::active_ = &profile;
  }
  ~OpProfileScope() { OpProfile::active_ = previous_; }
  OpProfileScope(const OpProfileScope&) = delete;
  OpProfileScope& operator=(const OpProfileScope&) = delete;

 private:
  OpProfile* previous_;
};

// What a kernel entry calls after validating: `cost()` runs only while a profile is active.
// Inside an OnSideStream region all of it counts as side work (runtime/side_stream.h).
template <class CostFn>
void count_op(const char* op, CostFn&& cost) {
  if (OpProfile* profile = OpProfile::active()) {
    OpCost c = cost();
    profile->add(op, in_side_region() ? c.on_side_stream() : c);
    OpProfile::entry_ = op;
  }
}

// While alive (around a CPU twin's call), the time goes to the entry that counted itself last on
// this thread, less the time of entries timed inside it. Nothing happens unless a timed profile is
// active; a twin of an entry that counts nothing is timed as "(uncounted)".
class TwinTimer {
 public:
  TwinTimer() {
    OpProfile* profile = OpProfile::active();
    if (!profile || !profile->timed()) return;
    profile_ = profile;
    op_ = OpProfile::entry_ ? OpProfile::entry_ : "(uncounted)";
    OpProfile::entry_ = nullptr;
    outer_ = innermost_;
    innermost_ = this;
    start_ = std::chrono::steady_clock::now();
  }
  ~TwinTimer() {
    if (!profile_) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    profile_->add_time(op_, seconds - inner_seconds_);
    innermost_ = outer_;
    if (outer_) outer_->inner_seconds_ += seconds;
  }
  TwinTimer(const TwinTimer&) = delete;
  TwinTimer& operator=(const TwinTimer&) = delete;

 private:
  static thread_local TwinTimer* innermost_;
  OpProfile* profile_ = nullptr;
  const char* op_ = nullptr;
  TwinTimer* outer_ = nullptr;
  double inner_seconds_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace autonet
