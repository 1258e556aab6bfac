// The search network with its mixed ops' closing batch norms folded into the weighted sum
// (SearchConfig::fold_batch_norms, kernels/bn_mixed_sum.h) against the same network running each
// BN alone: whole search steps agree up to float32 rounding, with far fewer launches.
#include <gtest/gtest.h>

#include <map>
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

  // The folded step: every mixed op is one fused op, and the step launches far less.
  const auto folded_ops = folded_profile.by_op(), unfolded_ops = unfolded_profile.by_op();
  EXPECT_EQ(folded_ops.count("mixed_sum_forward"), 0u);
  EXPECT_EQ(unfolded_ops.count("bn_mixed_sum_forward"), 0u);
  EXPECT_EQ(folded_ops.at("bn_mixed_sum_forward").calls,
            unfolded_ops.at("mixed_sum_forward").calls);
  // Per edge and pass, K − 1 BNs and the sum (2 + 2 launches each way) become 2 + 2 launches.
  int64_t folded_bn = 0, unfolded_bn = 0;
  for (const char* op : {"batch_norm_forward", "batch_norm_backward", "mixed_sum_forward",
                         "mixed_sum_backward", "bn_mixed_sum_forward", "bn_mixed_sum_backward"}) {
    folded_bn += launches_of(folded_ops, op);
    unfolded_bn += launches_of(unfolded_ops, op);
  }
  EXPECT_LT(folded_bn * 5, unfolded_bn * 2);
  // Nothing else changed but this: the fused sum's backward reads its two pool candidates (for
  // x̂ and dα) and rebuilds them (autograd SavedValue; each a stencil group of one), where each
  // unfolded BN read its output.
  const int64_t rebuilt_pools = 2 * folded_ops.at("bn_mixed_sum_backward").calls;
  EXPECT_EQ(launches_of(folded_ops, "stencil_group_forward"),
            launches_of(unfolded_ops, "stencil_group_forward") + rebuilt_pools);
  EXPECT_EQ(folded_profile.total().cost.launches - folded_bn - rebuilt_pools,
            unfolded_profile.total().cost.launches - unfolded_bn);
}

}  // namespace
}  // namespace autonet::darts
