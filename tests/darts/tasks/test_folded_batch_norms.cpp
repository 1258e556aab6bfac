// The search network with its mixed ops' closing batch norms folded into the weighted sum
// (SearchConfig::fold_batch_norms, kernels/bn_mixed_sum.h) against the same network running each
// BN alone: whole search steps agree up to float32 rounding, with far fewer launches.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "tests/darts/matching_search_steps.h"

namespace autonet::darts {
namespace {

using test::launches_of;
using test::TinySearcher;

SearchConfig with_folding(bool fold) {
  SearchConfig c = TinySearcher::config();
  c.fold_batch_norms = fold;
  return c;
}

TEST(FoldedBatchNorms, SearchStepsMatchTheUnfoldedNetwork) {
  TinySearcher folded(Device::cpu(), {}, with_folding(true));
  TinySearcher unfolded(Device::cpu(), {}, with_folding(false));
  OpProfile folded_profile, unfolded_profile;
  test::run_matching_steps(folded, unfolded, folded_profile, unfolded_profile);
  // Float32 sums of another order, carried through two SGD and two Adam steps: seen ≤ 4e-7.
  test::expect_same_state(folded, unfolded, 1e-5);

  // The folded step: each node sums all its edges' candidates, BNs folded, in one fused op (the
  // unfolded network: a mixed sum per edge, then the edges added), and launches far less.
  const auto folded_ops = folded_profile.by_op(), unfolded_ops = unfolded_profile.by_op();
  const SearchConfig& config = folded.net.config();
  EXPECT_EQ(folded_ops.count("mixed_sum_forward"), 0u);
  EXPECT_EQ(unfolded_ops.count("bn_mixed_sum_forward"), 0u);
  EXPECT_EQ(folded_ops.at("bn_mixed_sum_forward").calls * search_edge_count(config.nodes),
            unfolded_ops.at("mixed_sum_forward").calls * config.nodes);
  // Per edge and pass, K − 1 BNs and the sum (2 + 2 launches each way); per node and pass, 2 + 2.
  int64_t folded_bn = 0, unfolded_bn = 0;
  for (const char* op : {"batch_norm_forward", "batch_norm_backward", "mixed_sum_forward",
                         "mixed_sum_backward", "bn_mixed_sum_forward", "bn_mixed_sum_backward"}) {
    folded_bn += launches_of(folded_ops, op);
    unfolded_bn += launches_of(unfolded_ops, op);
  }
  EXPECT_LT(folded_bn * 5, unfolded_bn * 2);
  EXPECT_LT(folded_profile.total().cost.launches, unfolded_profile.total().cost.launches);
  // Nothing else changed but what the node sums change: no additions of edge sums, softmax(α)
  // cut per node rather than per edge (slices, zeroed gradient rows), fewer gradient
  // contributions to add up, and the stencil groups rebuilt in the α passes too, where the fused
  // sum's backward reads its pool candidates (autograd SavedValue) but an unfolded BN read its
  // output.
  const std::set<std::string> bn_and_sums{"batch_norm_forward",  "batch_norm_backward",
                                          "mixed_sum_forward",   "mixed_sum_backward",
                                          "bn_mixed_sum_forward", "bn_mixed_sum_backward"};
  const std::set<std::string> fewer{"binary_forward", "slice2d_forward", "slice2d_backward", "fill",
                                    "axpby"};
  std::set<std::string> ops;
  for (const auto& [op, totals] : folded_ops) ops.insert(op);
  for (const auto& [op, totals] : unfolded_ops) ops.insert(op);
  for (const std::string& op : ops) {
    if (bn_and_sums.count(op)) continue;
    if (fewer.count(op))
      EXPECT_LT(launches_of(folded_ops, op), launches_of(unfolded_ops, op)) << op;
    else if (op == "stencil_group_forward")
      EXPECT_GT(launches_of(folded_ops, op), launches_of(unfolded_ops, op)) << op;
    else
      EXPECT_EQ(launches_of(folded_ops, op), launches_of(unfolded_ops, op)) << op;
  }
}

}  // namespace
}  // namespace autonet::darts
