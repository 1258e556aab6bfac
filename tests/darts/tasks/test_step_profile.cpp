// The step profile of whole search steps (runtime/op_profile.h): reproducible from step to step,
// shaped like the network (one mixed sum per edge and pass), and — on a GPU — equal to the
// number of nodes CUDA records when the same work is captured as a graph.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "darts/tasks/search_trainer.h"
#include "runtime/cuda_graph.h"
#include "runtime/op_profile.h"
#include "tests/darts/tiny_searcher.h"

namespace autonet::darts {
namespace {

using test::labels_for;
using test::random_images;
using test::TinySearcher;

constexpr int64_t kBatch = 4;
constexpr int64_t kNodes = 3 * 4;  // 3 cells of 4 nodes (2 + 3 + 4 + 5 edges each)

using Ops = std::map<std::string, OpTotals>;

// The profile of search step `step` (its own batches) of `s`, per op.
Ops profile_step(TinySearcher& s, int step, Device device) {
  const Tensor xt = random_images({kBatch, 3, 8, 8}, 100 + step, device);
  const Tensor xv = random_images({kBatch, 3, 8, 8}, 200 + step, device);
  const Tensor yt = labels_for(kBatch, step, device), yv = labels_for(kBatch, step + 3, device);
  OpProfile profile;
  OpProfileScope scope(profile);
  search_step(s.net, s.architect, s.sgd, xt, yt, xv, yv, 5.0);
  return profile.by_op();
}

void expect_same_profile(const Ops& ops_a, const Ops& ops_b) {
  ASSERT_EQ(ops_a.size(), ops_b.size());
  for (const auto& [op, t] : ops_a) {
    SCOPED_TRACE(op);
    ASSERT_TRUE(ops_b.count(op));
    const OpTotals& u = ops_b.at(op);
    EXPECT_EQ(t.calls, u.calls);
    EXPECT_EQ(t.cost.launches, u.cost.launches);
    EXPECT_EQ(t.cost.bytes_read, u.cost.bytes_read);
    EXPECT_EQ(t.cost.bytes_written, u.cost.bytes_written);
    EXPECT_EQ(t.cost.flops, u.cost.flops);
  }
}

// "\n  name: count" lines, for a failure message.
std::string listing(const std::map<std::string, int64_t>& counts) {
  std::string out;
  for (const auto& [name, count] : counts) out += "\n  " + name + ": " + std::to_string(count);
  return out;
}

TEST(StepProfile, FirstOrderStepIsReproducibleAndShapedLikeTheNetwork) {
  TinySearcher s(Device::cpu());
  profile_step(s, 0, Device::cpu());  // the first step differs (SGD's momentum starts)
  const Ops ops = profile_step(s, 1, Device::cpu());
  expect_same_profile(ops, profile_step(s, 2, Device::cpu()));
  // Two passes (α on the validation batch, then the weights), each one weighted sum per node of
  // all its edges' candidates, with their closing batch norms folded in.
  EXPECT_EQ(ops.at("bn_mixed_sum_forward").calls, 2 * kNodes);
  EXPECT_EQ(ops.at("bn_mixed_sum_backward").calls, 2 * kNodes);
  EXPECT_EQ(ops.count("mixed_sum_forward"), 0u);
  EXPECT_EQ(ops.at("sgd_step").calls, 1);
  EXPECT_EQ(ops.at("adam_step").calls, 1);
  // The stem's BN: narrow channels (kBatch × 8 × 8 values), one launch (batch_norm_in_one_launch).
  EXPECT_EQ(ops.at("batch_norm_forward").cost.launches, ops.at("batch_norm_forward").calls);
  EXPECT_EQ(ops.at("bn_mixed_sum_forward").cost.launches, 2 * ops.at("bn_mixed_sum_forward").calls);
}

TEST(StepProfile, SecondOrderStepRunsFivePasses) {
  ArchitectConfig arch;
  arch.unrolled = true;
  TinySearcher s(Device::cpu(), arch);
  profile_step(s, 0, Device::cpu());
  const Ops ops = profile_step(s, 1, Device::cpu());
  expect_same_profile(ops, profile_step(s, 2, Device::cpu()));
  // w′'s training pass, the validation pass at w′, w ± R·v, then the weight step's pass.
  EXPECT_EQ(ops.at("bn_mixed_sum_forward").calls, 5 * kNodes);
  EXPECT_GT(ops.at("tensor_copy").calls, 0);  // w saved and restored on the device
}

TEST(StepProfile, CudaGraphOfACapturedPassHasTheCountedNodes) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "counting graph nodes needs a GPU: " << why;
  const Device gpu = Device::cuda(0);
  TinySearcher s(gpu);
  profile_step(s, 0, gpu);  // warms cuBLAS and the allocator, as CapturedSearchStep does
  const Tensor xt = random_images({kBatch, 3, 8, 8}, 300, gpu), yt = labels_for(kBatch, 1, gpu);
  CudaGraph graph(gpu);
  OpProfile profile;
  {
    OpProfileScope scope(profile);
    graph.capture([&] { weight_pass(s.net, xt, yt); });
  }
  // cuBLAS's kernels are unnamed to the runtime ("kernel"): a call is one of them or, split-K, two.
  const std::map<std::string, int64_t> kinds = graph.node_kinds();
  const int64_t library_nodes = kinds.count("kernel") ? kinds.at("kernel") : 0;
  const OpCost counted = profile.total().cost;
  EXPECT_GE(library_nodes, counted.library_calls);
  EXPECT_LE(library_nodes, 2 * counted.library_calls);
  EXPECT_EQ(static_cast<int64_t>(graph.node_count()) - library_nodes,
            counted.launches - counted.library_calls)
      << "graph nodes:" << listing(graph.node_kinds()) << "\ncounted launches:" << [&] {
           std::map<std::string, int64_t> launches;
           for (const auto& [op, totals] : profile.by_op()) launches[op] = totals.cost.launches;
           return listing(launches);
         }();
}

}  // namespace
}  // namespace autonet::darts
