// Capture once, replay many times: a stretch of work on a device's compute stream recorded as a
// CUDA Graph. A DARTS step launches thousands of small kernels whose host cost (tape, dispatch,
// launch) exceeds their GPU time; a replay launches them all with one call.
//
// What captured code must respect (the capture records launches, it runs nothing):
//  - no host synchronisation: no item(), no copies to the host, no synchronize() (a capture runs
//    under a NoHostSyncScope, runtime/host_sync_guard.h, which names the call that would wait);
//  - the same launches every time: host control flow may not depend on tensor values;
//  - inputs are read from tensors that outlive the graph and are refilled between replays, and
//    scalars passed to kernels (learning rates, step counts) are frozen at capture;
//  - tensors created during the capture and kept (outputs) are rewritten by every replay.
// Memory allocated during the capture comes from the graph's private pool (runtime/allocator.h),
// so a replay never writes into memory that was handed out after the capture.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runtime/allocator.h"
#include "runtime/device.h"

namespace autonet {

class CudaGraph {
 public:
  // Graphs that never run at the same time may share a pool (pass another graph's pool()):
  // their temporaries then overlap in memory as they would in eager execution.
  explicit CudaGraph(Device device, std::shared_ptr<CudaGraphPool> pool = nullptr);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records `work` (its kernels are not run) and instantiates the graph; replaces an earlier one.
  void capture(const std::function<void()>& work);
  // Launches the recorded work on the compute stream (asynchronous, like any launch).
  void replay();
  bool captured() const { return exec_ != nullptr; }
  // Nodes of the captured graph (kernels, memsets, copies): what the step profile calls launches.
  size_t node_count() const;
  // The captured nodes by kind: a kernel's name where the runtime knows its function (cuBLAS's own
  // kernels it may not: "kernel"), else the node's type ("memset", "memcpy", ...). What tells a
  // launch the step profile did not count from one it did.
  std::map<std::string, int64_t> node_kinds() const;
  const std::shared_ptr<CudaGraphPool>& pool() const { return pool_; }

 private:
  void reset();

  Device device_;
  std::shared_ptr<CudaGraphPool> pool_;
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

}  // namespace autonet
