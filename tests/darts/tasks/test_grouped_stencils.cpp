// The search network with the first stencils of its mixed ops (the depthwise convs opening their
// sep and dil convs, their pools) run as one op per state on the state all those edges read
// (SearchConfig::group_stencils, kernels/stencil_group.h) against the same network running each alone: whole search steps agree
// up to float32 rounding, with far fewer launches.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/darts/matching_search_steps.h"

namespace autonet::darts {
namespace {

using test::launches_of;
using test::TinySearcher;

// Both keep their ops' outputs (recompute_cheap_ops off), so the counts below are the passes' own:
// rebuilding outputs in backward, grouped or not, is tested in test_search_model.cpp.
SearchConfig with_grouping(SearchConfig c, bool group) {
  c.group_stencils = group;
  c.recompute_cheap_ops = false;
  return c;
}

// Launches of the stencil ops (grouped or alone) and of everything else.
struct Split {
  int64_t stencils = 0, rest = 0;
};
Split split_launches(const OpProfile& profile) {
  const auto ops = profile.by_op();
  Split s;
  for (const char* op : {"depthwise_conv2d_forward", "depthwise_conv2d_backward", "pool2d_forward",
                         "pool2d_backward", "stencil_group_forward", "stencil_group_backward"})
    s.stencils += launches_of(ops, op);
  s.rest = profile.total().cost.launches - s.stencils;
  return s;
}

// groups_per_cell: stencil groups per cell and pass.
void expect_grouped_matches_ungrouped(const SearchConfig& config, int64_t groups_per_cell) {
  TinySearcher grouped(Device::cpu(), {}, with_grouping(config, true));
  TinySearcher alone(Device::cpu(), {}, with_grouping(config, false));
  OpProfile grouped_profile, alone_profile;
  test::run_matching_steps(grouped, alone, grouped_profile, alone_profile);
  // dx of each edge's input sums its contributions in another order: float32 rounding carried
  // through two SGD and two Adam steps.
  test::expect_same_state(grouped, alone, 1e-5);

  // Per group and pass, 6 stencil forwards per edge become 1 launch, and their 6 dx + 4 dw
  // backward launches 1 + 1 (the sep convs' second depthwise convs stay alone).
  const auto grouped_ops = grouped_profile.by_op(), alone_ops = alone_profile.by_op();
  // Mixed ops run: a DARTS node sums all its edges in one fused op, a PC-DARTS edge its own.
  const int64_t edges = search_edge_count(config.nodes);
  const int64_t sums_per_cell = config.partial_channels > 1 ? edges : config.nodes;
  const int64_t mixed_ops = grouped_ops.at("bn_mixed_sum_forward").calls / sums_per_cell * edges;
  EXPECT_EQ(alone_ops.count("stencil_group_forward"), 0u);
  EXPECT_EQ(grouped_ops.at("stencil_group_forward").calls,
            mixed_ops / search_edge_count(config.nodes) * groups_per_cell);
  EXPECT_EQ(grouped_ops.at("stencil_group_forward").cost.launches,
            grouped_ops.at("stencil_group_forward").calls);
  auto calls = [](const std::map<std::string, OpTotals>& ops, const std::string& op) {
    return ops.count(op) ? ops.at(op).calls : int64_t(0);
  };
  EXPECT_EQ(calls(alone_ops, "depthwise_conv2d_forward") - 4 * mixed_ops,
            calls(grouped_ops, "depthwise_conv2d_forward"));
  EXPECT_EQ(calls(alone_ops, "pool2d_forward") - 2 * mixed_ops,  // PC-DARTS's bypass pools stay
            calls(grouped_ops, "pool2d_forward"));
  const Split g = split_launches(grouped_profile), a = split_launches(alone_profile);
  EXPECT_LT(g.stencils * 2, a.stencils);
  EXPECT_EQ(g.rest, a.rest);  // nothing else changed
}

// One group per state with edges leaving it: 5 of the cell's 6 states (the inputs' 4 edges of
// 6 stencils each fill a group of kMaxStencils = 24).
TEST(GroupedStencils, SearchStepsMatchTheUngroupedNetwork) {
  expect_grouped_matches_ungrouped(TinySearcher::config(), 5);
}

// A PC-DARTS edge runs its ops on its own channel part: one group per edge.
TEST(GroupedStencils, PcDartsStepsMatchTheUngroupedNetwork) {
  expect_grouped_matches_ungrouped(TinySearcher::pc_darts_config(), 14);
}

// With more stencils leaving a state than a group holds, the edges are cut into several groups.
TEST(GroupedStencils, WideCellsCutAStatesEdgesIntoSeveralGroups) {
  SearchConfig c = TinySearcher::config();
  c.nodes = c.multiplier = 5;  // states 0 and 1 feed 5 edges: 30 stencils, two groups each
  expect_grouped_matches_ungrouped(c, 8);
}

}  // namespace
}  // namespace autonet::darts
