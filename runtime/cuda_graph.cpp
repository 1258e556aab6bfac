#include "runtime/cuda_graph.h"

#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/host_sync_guard.h"
#include "runtime/side_stream.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {

#if AUTONET_WITH_CUDA

CudaGraph::CudaGraph(Device device, std::shared_ptr<CudaGraphPool> pool) : device_(device) {
  AN_CHECK(device.is_cuda()) << "CUDA graphs need a CUDA device, got " << device.str();
  pool_ = pool ? std::move(pool) : cuda_new_graph_pool(device.index);
}

CudaGraph::~CudaGraph() { reset(); }

void CudaGraph::reset() {
  if (exec_) {
    // A replay may still be running: finish it before its memory can go back to the cache.
    cudaStreamSynchronize(cuda::compute_stream(device_));
    cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  }
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = graph_ = nullptr;
}

void CudaGraph::capture(const std::function<void()>& work) {
  reset();
  cudaStream_t s = cuda::compute_stream(device_);
  // Side work launched before the capture is waited for outside it: a capture may not wait for
  // an event recorded outside it.
  join_side_work(device_);
  // Relaxed: the allocator may still call cudaMalloc for a block the pool does not have yet.
  AN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  cuda_begin_pool(device_.index, pool_);
  cudaGraph_t graph = nullptr;
  try {
    NoHostSyncScope recording("a CUDA Graph capture");
    work();
    join_side_work(device_);  // a capture ends with every stream it forked joined
  } catch (...) {
    cuda_end_pool(device_.index);
    // The side stream rejoins the capture before it ends (a fork left unjoined would fail the
    // end); where the capture is already invalid, its side launches are simply forgotten.
    try {
      join_side_work(device_);
    } catch (...) {
      forget_side_work(device_);
    }
    cudaStreamEndCapture(s, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  cuda_end_pool(device_.index);
  AN_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
  graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  AN_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  exec_ = exec;
}

size_t CudaGraph::node_count() const {
  if (!graph_) return 0;
  size_t nodes = 0;
  AN_CUDA_CHECK(cudaGraphGetNodes(static_cast<cudaGraph_t>(graph_), nullptr, &nodes));
  return nodes;
}

std::map<std::string, int64_t> CudaGraph::node_kinds() const {
  std::map<std::string, int64_t> kinds;
  size_t count = node_count();
  if (count == 0) return kinds;
  std::vector<cudaGraphNode_t> nodes(count);
  AN_CUDA_CHECK(cudaGraphGetNodes(static_cast<cudaGraph_t>(graph_), nodes.data(), &count));
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type;
    AN_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    std::string kind = "node type " + std::to_string(static_cast<int>(type));
    if (type == cudaGraphNodeTypeKernel) {
      cudaKernelNodeParams params{};
      const char* name = nullptr;
      const bool named = cudaGraphKernelNodeGetParams(node, &params) == cudaSuccess &&
                         cudaFuncGetName(&name, params.func) == cudaSuccess && name;
      kind = named ? name : "kernel";
      cudaGetLastError();  // an unnamed kernel's lookup error is not the caller's
    } else if (type == cudaGraphNodeTypeMemset) {
      kind = "memset";
    } else if (type == cudaGraphNodeTypeMemcpy) {
      kind = "memcpy";
    }
    ++kinds[kind];
  }
  return kinds;
}

void CudaGraph::replay() {
  AN_CHECK(exec_) << "CudaGraph::replay before capture";
  AN_CUDA_CHECK(
      cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), cuda::compute_stream(device_)));
}

#else  // CPU-only build

CudaGraph::CudaGraph(Device device, std::shared_ptr<CudaGraphPool>) : device_(device) {
  AN_THROW() << "CUDA graphs need a CUDA build (autonet was built without CUDA)";
}
CudaGraph::~CudaGraph() = default;
void CudaGraph::reset() {}
void CudaGraph::capture(const std::function<void()>&) {}
void CudaGraph::replay() {}
size_t CudaGraph::node_count() const { return 0; }
std::map<std::string, int64_t> CudaGraph::node_kinds() const { return {}; }

#endif

}  // namespace autonet
