// The search network with the candidates of all edges leaving a state run layer by layer, each
// layer one group op (SearchConfig::group_state_ops, darts/cnn/state_pipeline.h: stencil groups,
// then pointwise, batch-norm and depthwise groups) against the same network running each op's
// layers alone: whole search steps agree up to float32 rounding, with far fewer launches.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "darts/cnn/state_pipeline.h"
#include "kernels/channel_moments.h"
#include "tests/darts/matching_search_steps.h"

namespace autonet::darts {
namespace {

using test::launches_of;
using test::TinySearcher;

// Both keep their ops' outputs (recompute_cheap_ops off), so the counts below are the passes' own:
// rebuilding outputs in backward, grouped or not, is tested in test_search_model.cpp.
SearchConfig with_grouping(SearchConfig c, bool group) {
  c.group_state_ops = group;
  c.recompute_cheap_ops = false;
  return c;
}

// The op families a state pipeline replaces or uses, and everything else.
const char* const kPipelineOps[] = {
    "conv2d_forward",          "conv2d_backward",           "depthwise_conv2d_forward",
    "depthwise_conv2d_backward", "pool2d_forward",          "pool2d_backward",
    "batch_norm_forward",      "batch_norm_backward",       "stencil_group_forward",
    "stencil_group_backward",  "pointwise_group_forward",   "pointwise_group_backward",
    "batch_norm_group_forward", "batch_norm_group_backward", "depthwise_group_forward",
    "depthwise_group_backward"};

struct Split {
  int64_t pipeline = 0, rest = 0;
};
Split split_launches(const OpProfile& profile) {
  const auto ops = profile.by_op();
  Split s;
  for (const char* op : kPipelineOps) s.pipeline += launches_of(ops, op);
  s.rest = profile.total().cost.launches - s.pipeline;
  return s;
}

int64_t calls(const std::map<std::string, OpTotals>& ops, const std::string& op) {
  return ops.count(op) ? ops.at(op).calls : int64_t(0);
}

// A network's preprocessings (each cell's two: ReLUConvBNs, but s0 after a reduction goes through
// a FactorizedReduce) and the groups they run as: their 1×1 convs as one group when s0 and s1
// have equal channels (every cell but the second, whose s0 has the stem's 3C channels against
// s1's 4C, and those after a reduction), else one each; their BNs as one group in every cell.
struct Preprocessings {
  int64_t relu_conv_bns = 0, factorized_reduces = 0, conv_groups = 0, norm_groups = 0;
};
Preprocessings preprocessings_of(const SearchConfig& c) {
  Preprocessings p;
  int64_t c_pp = c.stem_multiplier * c.channels, c_p = c_pp, c_curr = c.channels;
  bool reduction_prev = false;
  for (int64_t i = 0; i < c.layers; ++i) {
    const bool reduction = is_reduction_cell(i, c.layers);
    if (reduction) c_curr *= 2;
    const int64_t here = reduction_prev ? 1 : 2;
    p.relu_conv_bns += here;
    p.factorized_reduces += 2 - here;
    p.conv_groups += !reduction_prev && c_pp == c_p ? 1 : here;
    p.norm_groups += 1;
    reduction_prev = reduction;
    c_pp = c_p;
    c_p = c.multiplier * c_curr;
  }
  return p;
}

// Per cell and pass: `stencil_groups` stencil groups and `pipelines` state pipelines; the
// pipelines' ops launch at least `fewer` times less than the ops alone.
void expect_grouped_matches_ungrouped(const SearchConfig& config, int64_t stencil_groups,
                                      int64_t pipelines, int64_t fewer) {
  TinySearcher grouped(Device::cpu(), {}, with_grouping(config, true));
  TinySearcher alone(Device::cpu(), {}, with_grouping(config, false));
  OpProfile grouped_profile, alone_profile;
  test::run_matching_steps(grouped, alone, grouped_profile, alone_profile);
  // dx of each edge's input sums its contributions in another order: float32 rounding carried
  // through two SGD and two Adam steps.
  test::expect_same_state(grouped, alone, 1e-5);

  const auto grouped_ops = grouped_profile.by_op(), alone_ops = alone_profile.by_op();
  // Cell passes: a DARTS node sums all its edges in one fused op, a PC-DARTS edge its own.
  const int64_t edges = search_edge_count(config.nodes);
  const int64_t sums_per_cell = config.partial_channels > 1 ? edges : config.nodes;
  const int64_t cell_passes = calls(grouped_ops, "bn_mixed_sum_forward") / sums_per_cell;
  const int64_t mixed_ops = cell_passes * edges;
  // One op per layer and pipeline: stencils, the 1×1 convs twice (sep and dil convs' first, the
  // sep convs' last), the sep convs' middle BNs, their second depthwise convs; and one 1×1 conv
  // and the preprocessings' 1×1 conv and BN groups.
  const Preprocessings per_pass = preprocessings_of(config);
  const int64_t network_passes = cell_passes / config.layers;
  const int64_t relu_conv_bns = per_pass.relu_conv_bns * network_passes;
  const int64_t factorized_reduces = per_pass.factorized_reduces * network_passes;
  EXPECT_EQ(calls(grouped_ops, "stencil_group_forward"), cell_passes * stencil_groups);
  EXPECT_EQ(calls(grouped_ops, "pointwise_group_forward"),
            cell_passes * pipelines * 2 + per_pass.conv_groups * network_passes);
  EXPECT_EQ(calls(grouped_ops, "batch_norm_group_forward"),
            cell_passes * pipelines + per_pass.norm_groups * network_passes);
  EXPECT_EQ(calls(grouped_ops, "depthwise_group_forward"), cell_passes * pipelines);
  // What the groups replace: per edge 6 depthwise convs, 2 pools, 6 1×1 convs and 2 BNs alone.
  EXPECT_EQ(calls(alone_ops, "stencil_group_forward"), 0);
  EXPECT_EQ(calls(alone_ops, "depthwise_conv2d_forward") - 6 * mixed_ops,
            calls(grouped_ops, "depthwise_conv2d_forward"));
  EXPECT_EQ(calls(alone_ops, "pool2d_forward") - 2 * mixed_ops,  // PC-DARTS's bypass pools stay
            calls(grouped_ops, "pool2d_forward"));
  EXPECT_EQ(calls(alone_ops, "conv2d_forward") - 6 * mixed_ops - relu_conv_bns,
            calls(grouped_ops, "conv2d_forward"));  // the stem's stays
  EXPECT_EQ(calls(alone_ops, "batch_norm_forward") - 2 * mixed_ops - relu_conv_bns -
                factorized_reduces,
            calls(grouped_ops, "batch_norm_forward"));
  const Split g = split_launches(grouped_profile), a = split_launches(alone_profile);
  EXPECT_LT(g.pipeline * fewer, a.pipeline) << g.pipeline << " against " << a.pipeline;
  // Nothing else changed but the preprocessings' ReLUs, folded into their 1×1 convs (one relu
  // fewer per ReLUConvBN forward, and its backward where one ran), and the first cell's: both
  // its preprocessings read the stem's output, so one of their two dx lands apart and is added
  // (an axpby per backward).
  const auto launches = [](const std::map<std::string, OpTotals>& ops) {
    return launches_of(ops, "unary_forward") + launches_of(ops, "unary_backward") +
           launches_of(ops, "axpby");
  };
  EXPECT_EQ(calls(alone_ops, "unary_forward") - calls(grouped_ops, "unary_forward"),
            relu_conv_bns);
  EXPECT_EQ(a.rest - g.rest, launches(alone_ops) - launches(grouped_ops));
}

// One pipeline per state with edges leaving it: 5 of the cell's 6 states (the inputs' 4 edges of
// 6 stencils each fill a stencil group of kMaxStencils = 24).
TEST(GroupedStateOps, SearchStepsMatchTheUngroupedNetwork) {
  expect_grouped_matches_ungrouped(TinySearcher::config(), 5, 5, 4);
}

// A PC-DARTS edge runs its ops on its own channel part: one pipeline per edge, a smaller gain.
TEST(GroupedStateOps, PcDartsStepsMatchTheUngroupedNetwork) {
  expect_grouped_matches_ungrouped(TinySearcher::pc_darts_config(), 14, 14, 2);
}

// With more stencils leaving a state than a group holds, they run as several stencil groups (the
// 20 first 1×1 convs of those states still fit one pointwise group).
TEST(GroupedStateOps, WideCellsCutAStatesStencilsIntoSeveralGroups) {
  SearchConfig c = TinySearcher::config();
  c.nodes = c.multiplier = 5;  // states 0 and 1 feed 5 edges: 30 stencils, two groups each
  expect_grouped_matches_ungrouped(c, 8, 6, 4);
}

// A 1×1 conv read next by a training batch norm forms that BN's channel moments, written beside
// its output (so the BN merges them instead of reading the output); before an evaluating BN,
// which normalises with its running statistics, it forms none.
TEST(GroupedStateOps, OnlyATrainingBatchNormGetsChannelMoments) {
  ParameterStore store;
  ReLUConvBN preprocess(store, "preprocess", 6, 4, 1, 1, 0, /*affine=*/false);
  Tensor input = Tensor::empty({2, 6, 8, 8});
  fill_uniform(input, -1.0, 1.0, 5);
  const int64_t y_bytes = 2 * 4 * 8 * 8 * 4, x_bytes = 2 * 6 * 8 * 8 * 4;
  const int64_t moment_bytes = moment_parts({2, 4, 8, 8}) * 4 * 3 * 8;
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "train" : "eval");
    preprocess.train(training);
    OpProfile profile;
    {
      OpProfileScope scope(profile);
      std::vector<Variable> values{Variable(input)};
      run_stages(values, {preprocess.stages()});
    }
    const auto ops = profile.by_op();
    EXPECT_EQ(ops.at("pointwise_group_forward").cost.bytes_written,
              y_bytes + (training ? moment_bytes : 0));
    // Training: the statistics kernel reads the moments, the normalize kernel y; evaluating, y.
    const int64_t stats = 2 * 4 * 4;  // running (or saved) mean and var: [4] each
    EXPECT_EQ(ops.at("batch_norm_group_forward").cost.bytes_read,
              (training ? moment_bytes : 0) + stats + y_bytes + stats);
    EXPECT_EQ(ops.at("pointwise_group_forward").cost.bytes_read, x_bytes + 4 * 6 * 4);
  }
}

// A pool's stencil is read next by its closing batch norm: in training it forms that BN's moments
// in the stencil group (a sep/dil conv's come from its last 1×1 conv), in evaluation none.
TEST(GroupedStateOps, APoolsClosingBatchNormGetsItsMomentsFromTheStencilGroup) {
  ParameterStore store;
  PoolBN max_pool(store, "max", PoolMode::max, 4, 1, /*affine=*/false);
  PoolBN avg_pool(store, "avg", PoolMode::avg, 4, 1, /*affine=*/false);
  DilConv dil(store, "dil", 4, 4, 3, 1, 2, 2, /*affine=*/false);
  Tensor input = Tensor::empty({2, 4, 8, 8});
  fill_uniform(input, -1.0, 1.0, 6);
  const int64_t y_bytes = 2 * 4 * 8 * 8 * 4;
  const int64_t moment_bytes = moment_parts({2, 4, 8, 8}) * 4 * 3 * 8;
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "train" : "eval");
    OpProfile profile;
    std::vector<Variable> outputs;
    {
      OpProfileScope scope(profile);
      outputs = run_state_pipeline(Variable(input), {&max_pool, &avg_pool, &dil}, training);
    }
    for (const Variable& y : outputs) EXPECT_EQ(y.channel_moments().defined(), training);
    EXPECT_EQ(profile.by_op().at("stencil_group_forward").cost.bytes_written,
              3 * y_bytes + (training ? 2 * moment_bytes : 0));
  }
}

}  // namespace
}  // namespace autonet::darts
