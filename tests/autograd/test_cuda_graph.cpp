// CUDA graph capture and its private memory pool (runtime/cuda_graph.h, runtime/allocator.h).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/elementwise.h"
#include "runtime/allocator.h"
#include "runtime/cuda_graph.h"
#include "runtime/device.h"

namespace autonet {
namespace {

#define SKIP_WITHOUT_GPU()                                                 \
  do {                                                                     \
    std::string why;                                                       \
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why; \
  } while (0)

Tensor on_gpu(const std::vector<float>& v) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}).to(Device::cuda(0));
}

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

TEST(GraphCapture, RefusesTheCpuDevice) {  // runs everywhere: not a GPU test
  EXPECT_THROW(CudaGraph graph(Device::cpu()), Error);
}

TEST(CudaGraph, ReplayRecomputesFromRefilledInputs) {
  SKIP_WITHOUT_GPU();
  Tensor x = on_gpu({-1.5f, 2.0f, -0.25f, 3.0f});
  Tensor y;
  CudaGraph graph(Device::cuda(0));
  graph.capture([&] {
    Tensor relu = Tensor::empty(x.shape(), DType::f32, x.device());  // a temporary of the pool
    unary_forward(UnaryOp::relu, x, relu);
    y = Tensor::empty(x.shape(), DType::f32, x.device());
    fill(y, 1.0);
    axpby(2.0, relu, 1.0, y);  // y = 2·relu(x) + 1
  });
  ASSERT_TRUE(graph.captured());
  graph.replay();
  EXPECT_EQ(host(y), (std::vector<float>{1.0f, 5.0f, 1.0f, 7.0f}));
  x.copy_from(Tensor::from_vector(std::vector<float>{4.0f, -1.0f, 0.5f, -2.0f}, {4}));
  graph.replay();
  EXPECT_EQ(host(y), (std::vector<float>{9.0f, 1.0f, 2.0f, 1.0f}));
}

TEST(CudaGraph, PoolBlocksStayWithTheGraph) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  constexpr int64_t n = 3000;  // a size no other test here uses
  Tensor before = Tensor::empty({n}, DType::f32, gpu);
  void* before_ptr = before.raw_data();
  void* temp_ptr = nullptr;
  CudaGraph graph(gpu);
  graph.capture([&] {
    Tensor temp = Tensor::empty({n}, DType::f32, gpu);
    temp_ptr = temp.raw_data();
    fill(temp, 1.0);
    before = Tensor();  // released during the capture: the graph may still read it
  });
  // Neither the capture's temporary nor the block released during it is handed out again.
  Tensor after = Tensor::empty({n}, DType::f32, gpu);
  EXPECT_NE(after.raw_data(), temp_ptr);
  EXPECT_NE(after.raw_data(), before_ptr);
  // A second graph on the same pool reuses the first one's temporaries (they never overlap).
  void* shared_ptr = nullptr;
  CudaGraph second(gpu, graph.pool());
  second.capture([&] {
    Tensor temp = Tensor::empty({n}, DType::f32, gpu);
    shared_ptr = temp.raw_data();
    fill(temp, 2.0);
  });
  EXPECT_EQ(shared_ptr, temp_ptr);
  EXPECT_GE(cuda_graph_pool_bytes(graph.pool()), static_cast<size_t>(n) * sizeof(float));
}

TEST(CudaGraph, FreeCachedBlocksJoinTheCapturingPool) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  constexpr int64_t n = 5000;  // a size no other test here uses
  void* cached = Tensor::empty({n}, DType::f32, gpu).raw_data();  // released at once: cached
  void* taken = nullptr;
  CudaGraph graph(gpu);
  graph.capture([&] {
    Tensor temp = Tensor::empty({n}, DType::f32, gpu);
    taken = temp.raw_data();
    fill(temp, 3.0);
  });
  EXPECT_EQ(taken, cached);  // no second block from the driver
  EXPECT_NE(Tensor::empty({n}, DType::f32, gpu).raw_data(), cached);  // now the graph's
}

TEST(CudaGraph, AFailedCaptureLeavesTheStreamUsable) {
  SKIP_WITHOUT_GPU();
  const Tensor x = on_gpu({1.0f, 2.0f});
  CudaGraph graph(Device::cuda(0));
  // Reading a value on the host is a synchronisation: not allowed while capturing.
  EXPECT_THROW(graph.capture([&] { (void)x.to(Device::cpu()); }), Error);
  EXPECT_FALSE(graph.captured());
  Tensor y = Tensor::empty({2}, DType::f32, x.device());
  unary_forward(UnaryOp::identity, x, y);
  EXPECT_EQ(host(y), (std::vector<float>{1.0f, 2.0f}));
}

}  // namespace
}  // namespace autonet
