// Work recorded into a CUDA Graph runs nothing while it is recorded, so it may not wait for the
// device from the host (runtime/cuda_graph.h): no tensor value read on the host, no copy between
// host and device. On a GPU the CUDA runtime refuses such a wait deep inside a capture; in a CPU
// run nothing waits at all. While a NoHostSyncScope lives, every Tensor call that would wait on a
// GPU (item, to_vector, fill_, from_vector, to(dtype), a copy through the host, synchronize) throws
// on every device, naming the call and the scope: a CPU test proves a pass capturable, and a
// capture fails with a message instead of a CUDA error.
#pragma once

namespace autonet {

class NoHostSyncScope {
 public:
  // `what`: the work that must not wait, as the error names it ("a CUDA Graph capture").
  explicit NoHostSyncScope(const char* what);
  ~NoHostSyncScope();
  NoHostSyncScope(const NoHostSyncScope&) = delete;
  NoHostSyncScope& operator=(const NoHostSyncScope&) = delete;

 private:
  const char* previous_;
};

// Throws when the calling thread is inside a NoHostSyncScope; `call` names the waiting call.
void check_no_host_sync(const char* call);

}  // namespace autonet
