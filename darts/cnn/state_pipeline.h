// The candidate ops of the edges leaving one state of a search cell, run layer by layer with each
// layer one group op across them: the first stencils (the depthwise convs opening the sep/dil
// convs, the pools) as a stencil group on the state, then every sep/dil conv's first 1×1 conv as
// one pointwise group, the sep convs' middle BNs and second depthwise convs as one op (the BNs'
// statistics, then the depthwise convs normalising as they read: batch_norm_depthwise_group) and
// their last 1×1 convs as one more pointwise group. Five launches forward carry what took ~40 per
// edge when each op ran alone (kernels/*_group.h).
//
// Each group member computes exactly what its op's own layer computes, so the outputs are the
// ops' own up to rounding (the groups' twins round as the single ops do).
#pragma once
#include <vector>

#include "darts/cnn/ops.h"

namespace autonet::darts {

// outputs[k]: ops[k] on x up to its closing batch norm (EndsInBatchNorm::forward_to_batch_norm).
// A layer with more members than a group holds (kMaxStencils, kMaxGroupMembers) runs as several.
// `training`: the closing batch norms normalise with batch statistics, which an op's last layer
// then forms as channel moments on the way out (a pool's stencil, or the last 1×1 conv in
// run_stages).
std::vector<Variable> run_state_pipeline(const Variable& x,
                                         const std::vector<StartsWithStencil*>& ops,
                                         bool training);

// values[k] ← member k's stages run on values[k] in order, layer by layer, the members of one kind
// and one input shape in a layer one group op (as the group kernels ask). A 1×1 conv whose output
// a training batch norm reads next — the next stage's, or with `closing_norms` the members' own
// closing BNs after their last stage — forms that BN's channel moments on the way out.
void run_stages(std::vector<Variable>& values, const std::vector<std::vector<OpStage>>& stages,
                bool closing_norms = false);

}  // namespace autonet::darts
