// The step profile: what a piece of work asks of the device, counted (not timed) at each kernel
// family's public entry. Per entry name (e.g. "pool2d_backward"): calls, kernel launches as the
// CUDA twin issues them (kernels, cuBLAS calls, memsets and device-to-device copies), the bytes
// those kernels read and write (each kernel reading its inputs and writing its outputs once: the
// least traffic of the work as it is split into kernels) and the arithmetic (FLOPs, a multiply-add
// counts 2). A CPU build counts exactly what a CUDA build launches, so the profile of a search step
// is measurable on any machine; docs/performance.md turns it into a predicted GPU time.
//
// Zero cost when off: an entry reads one thread-local pointer and computes nothing more.
#pragma once
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
};

// Totals of the kernel entries called while the profile was active; thread-safe.
class OpProfile {
 public:
  void add(const std::string& op, const OpCost& cost);
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
  static thread_local OpProfile* active_;
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
  }
}

}  // namespace autonet
