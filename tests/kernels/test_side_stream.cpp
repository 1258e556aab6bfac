// Weight gradients on the side stream (runtime/side_stream.h): when side work may be launched,
// and, on a GPU, that memory released while it may still run is held back until the join and
// that its results are the one-stream results bit for bit. (The whole search step on side
// streams against one stream: CapturedSearchStep.Cuda*OneStream* in tests/darts/tasks.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/pointwise_group.h"
#include "runtime/allocator.h"
#include "runtime/cuda_graph.h"
#include "runtime/side_stream.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

TEST(SideStreams, SideWorkOnlyInsideABackwardScopeWhileOn) {  // not a GPU test: no device touched
  const Device gpu = Device::cuda(0), cpu = Device::cpu();
  EXPECT_TRUE(side_streams_enabled());   // the default
  EXPECT_FALSE(side_work_allowed(gpu));  // no scope
  {
    SideStreamScope scope(gpu);
    EXPECT_TRUE(side_work_allowed(gpu));
    EXPECT_FALSE(side_work_allowed(Device::cuda(1)));  // another device's work
    {
      SideStreamScope nested(gpu);
      EXPECT_TRUE(side_work_allowed(gpu));
    }
    EXPECT_TRUE(side_work_allowed(gpu));  // the inner scope's end does not close the outer
    {
      SideStreamsSwitch off(false);
      EXPECT_FALSE(side_work_allowed(gpu));
    }
    EXPECT_TRUE(side_work_allowed(gpu));  // the switch restored
  }
  EXPECT_FALSE(side_work_allowed(gpu));
  SideStreamScope on_the_cpu(cpu);
  EXPECT_FALSE(side_work_allowed(cpu));  // one order of work on the CPU
}

// A pointwise group's backward with a weight gradient (launched first, on the side stream).
struct PointwiseBackward {
  Tensor x, w, dy, dx, dw;
  explicit PointwiseBackward(Device device) {
    x = Tensor::empty({2, 4, 8, 8}, DType::f32, device);
    w = Tensor::empty({4, 4, 1, 1}, DType::f32, device);
    dy = Tensor::empty({2, 4, 8, 8}, DType::f32, device);
    fill_uniform(x, -1, 1, 1);
    fill_uniform(w, -1, 1, 2);
    fill_uniform(dy, -1, 1, 3);
    dx = Tensor::empty(x.shape(), DType::f32, device);
    dw = Tensor::full(w.shape(), 0.25, DType::f32, device);
  }
  void run() {
    std::vector<Tensor> dxs{dx}, dws{dw};
    pointwise_group_backward({x}, {w}, {dy}, dxs, dws, {GradMode::Write}, false);
  }
};

size_t bytes_in_use() {
  return cuda_memory_stats(0).current_bytes;
}

TEST(SideStreams, CudaReleasesWhileSideWorkMayRunAreHeldUntilTheJoin) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "side streams need a GPU: " << why;
  const Device gpu = Device::cuda(0);
  PointwiseBackward pass(gpu);
  constexpr size_t kBytes = size_t{4} << 20;  // a whole number of the allocator's 2 MiB steps
  for (bool side : {true, false}) {
    SCOPED_TRACE(side ? "side streams on" : "side streams off");
    SideStreamsSwitch streams(side);
    Tensor doomed = Tensor::empty({static_cast<int64_t>(kBytes / 4)}, DType::f32, gpu);
    const size_t before = bytes_in_use();
    {
      SideStreamScope scope(gpu);
      pass.run();
      doomed = Tensor();
      if (side)
        EXPECT_GE(bytes_in_use(), before);  // held back: the weight gradient may still read it
      else
        EXPECT_EQ(bytes_in_use(), before - kBytes);  // one stream: free again at once
    }
    EXPECT_EQ(bytes_in_use(), before - kBytes);  // the scope's end joined and released
  }
}

TEST(SideStreams, CudaWeightGradientsOnTheSideStreamEqualOneStreamBitForBit) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "side streams need a GPU: " << why;
  const Device gpu = Device::cuda(0);
  PointwiseBackward side(gpu), one(gpu);
  {
    SideStreamScope scope(gpu);
    side.run();
    side.run();  // the second launch joins the first (its dw adds to the first's)
  }
  {
    SideStreamsSwitch off(false);
    SideStreamScope scope(gpu);
    one.run();
    one.run();
  }
  EXPECT_EQ(side.dw.to(Device::cpu()).to_vector<float>(),
            one.dw.to(Device::cpu()).to_vector<float>());
  EXPECT_EQ(side.dx.to(Device::cpu()).to_vector<float>(),
            one.dx.to(Device::cpu()).to_vector<float>());
}

// A capture begun while eager side work is outstanding (its scope still open) must not wait for
// it inside the capture: capture() joins it first. A capture that then fails leaves the side
// stream usable, and its replays and later eager passes equal one stream's.
TEST(SideStreams, CudaCapturesJoinOutstandingSideWorkAndSurviveAFailure) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "side streams need a GPU: " << why;
  const Device gpu = Device::cuda(0);
  PointwiseBackward side(gpu), one(gpu);
  CudaGraph graph(gpu), failed(gpu);
  {
    SideStreamScope scope(gpu);
    side.run();  // eager, not yet joined
    graph.capture([&] {
      SideStreamScope inner(gpu);
      side.run();
    });
    EXPECT_THROW(failed.capture([&] {
      SideStreamScope inner(gpu);
      side.run();
      (void)side.dw.to(Device::cpu());  // a host read: refused while capturing
    }),
                 Error);
    graph.replay();
    side.run();  // eager again, after the failed capture
  }
  {
    SideStreamsSwitch off(false);
    SideStreamScope scope(gpu);
    for (int pass = 0; pass < 3; ++pass) one.run();
  }
  EXPECT_EQ(side.dw.to(Device::cpu()).to_vector<float>(),
            one.dw.to(Device::cpu()).to_vector<float>());
  EXPECT_EQ(side.dx.to(Device::cpu()).to_vector<float>(),
            one.dx.to(Device::cpu()).to_vector<float>());
}

}  // namespace
}  // namespace autonet
