// A state's candidates layer by layer, each layer one group op (darts/cnn/state_pipeline.h).
#include "darts/cnn/state_pipeline.h"

#include <algorithm>

#include "kernels/group_limits.h"
#include "runtime/error.h"

namespace autonet::darts {
namespace {

using Kind = OpStage::Kind;

// Calls run(chunk) on consecutive chunks of at most `limit` of `members`.
template <class Run>
void in_chunks(const std::vector<size_t>& members, size_t limit, Run run) {
  for (size_t begin = 0; begin < members.size(); begin += limit) {
    const size_t end = std::min(begin + limit, members.size());
    run(std::vector<size_t>(members.begin() + static_cast<std::ptrdiff_t>(begin),
                            members.begin() + static_cast<std::ptrdiff_t>(end)));
  }
}

// `members` split by the shape of their values, in order of first appearance, each part in
// member order: a group's members share one input shape.
std::vector<std::vector<size_t>> by_shape(const std::vector<size_t>& members,
                                          const std::vector<Variable>& values) {
  std::vector<std::vector<size_t>> parts;
  for (size_t k : members) {
    auto same = std::find_if(parts.begin(), parts.end(), [&](const std::vector<size_t>& part) {
      return values[part[0]].shape() == values[k].shape();
    });
    if (same == parts.end())
      parts.push_back({k});
    else
      same->push_back(k);
  }
  return parts;
}

// The batch-norm group's parameters: the members' BNs must agree on mode, momentum and eps and be
// affine-free, as the search network's are.
BatchNormParams shared_norm_params(const std::vector<BatchNorm2d*>& norms) {
  const BatchNorm2d& first = *norms.at(0);
  for (const BatchNorm2d* bn : norms)
    AN_CHECK(!bn->weight.defined() && bn->training() == first.training() &&
             bn->momentum == first.momentum && bn->eps == first.eps)
        << "batch norm '" << bn->name() << "' cannot run in a group with '" << first.name()
        << "': a group's BNs are affine-free and share mode, momentum and eps";
  BatchNormParams p;
  p.training = first.training();
  p.momentum = first.momentum;
  p.eps = first.eps;
  return p;
}

// values[k] ← layer `depth` of member k, for the members given, as one group op of `kind`.
void run_layer(Kind kind, const std::vector<size_t>& members,
               const std::vector<std::vector<OpStage>>& stages, size_t depth, bool closing_norms,
               std::vector<Variable>& values) {
  std::vector<Variable> xs, weights;
  std::vector<DepthwiseConv2dParams> params;
  std::vector<BatchNorm2d*> norms;
  std::vector<Tensor> running_means, running_vars;
  for (size_t k : members) {
    const OpStage& stage = stages[k][depth];
    xs.push_back(values[k]);
    weights.push_back(stage.weight);
    params.push_back(stage.depthwise);
    if (stage.norm) {
      norms.push_back(stage.norm);
      running_means.push_back(stage.norm->running_mean.value());
      running_vars.push_back(stage.norm->running_var.value());
    }
  }
  std::vector<Variable> ys;
  switch (kind) {
    case Kind::pointwise: {
      // A 1×1 conv whose output a training batch norm reads next forms that BN's channel
      // moments (an evaluating BN reads its running statistics instead).
      std::vector<bool> moments_wanted;
      for (size_t k : members) {
        const bool last = depth + 1 == stages[k].size();
        const OpStage* next = last ? nullptr : &stages[k][depth + 1];
        moments_wanted.push_back(last ? closing_norms
                                      : next->normalizes_input() && next->norm->training());
      }
      ys = pointwise_group(xs, weights, stages[members[0]][depth].relu_input, moments_wanted);
      break;
    }
    case Kind::depthwise:
      ys = norms.empty() ? depthwise_group(xs, weights, params)
                         : batch_norm_depthwise_group(xs, running_means, running_vars,
                                                      shared_norm_params(norms), weights, params);
      break;
    case Kind::batch_norm:
      ys = batch_norm_group(xs, running_means, running_vars, shared_norm_params(norms));
      break;
    case Kind::alone: AN_CHECK(false) << "run_layer: a stage run alone forms no group"; break;
  }
  for (size_t i = 0; i < members.size(); ++i) values[members[i]] = ys[i];
}

}  // namespace

std::vector<Variable> run_state_pipeline(const Variable& x,
                                         const std::vector<StartsWithStencil*>& ops,
                                         bool training) {
  std::vector<size_t> all(ops.size());
  for (size_t k = 0; k < ops.size(); ++k) all[k] = k;
  std::vector<std::vector<OpStage>> stages;
  for (StartsWithStencil* op : ops) stages.push_back(op->later_stages());
  std::vector<Variable> values(ops.size());
  in_chunks(all, kMaxStencils, [&](const std::vector<size_t>& chunk) {
    std::vector<Stencil> stencils;
    std::vector<Variable> weights;
    std::vector<bool> moments_wanted;  // a stencil read next by a training closing BN (the pools)
    for (size_t k : chunk) {
      stencils.push_back(ops[k]->first_stencil());
      weights.push_back(ops[k]->first_stencil_weight());
      moments_wanted.push_back(stages[k].empty() && training);
    }
    const std::vector<Variable> firsts = stencil_group(x, weights, stencils, moments_wanted);
    for (size_t i = 0; i < chunk.size(); ++i) values[chunk[i]] = firsts[i];
  });

  run_stages(values, stages, /*closing_norms=*/training);  // each op's closing BN follows
  return values;
}

void run_stages(std::vector<Variable>& values, const std::vector<std::vector<OpStage>>& stages,
                bool closing_norms) {
  AN_CHECK(values.size() == stages.size())
      << "run_stages: " << values.size() << " inputs for " << stages.size() << " members";
  size_t depth = 0;
  for (const std::vector<OpStage>& member : stages) depth = std::max(depth, member.size());
  // Layer by layer; within a layer, the members of one kind and one input shape form a group.
  for (size_t d = 0; d < depth; ++d)
    for (Kind kind : {Kind::pointwise, Kind::batch_norm, Kind::depthwise, Kind::alone}) {
      if (kind == Kind::alone) {
        for (size_t k = 0; k < stages.size(); ++k)
          if (d < stages[k].size() && stages[k][d].kind == kind)
            values[k] = stages[k][d].run(values[k]);
        continue;
      }
      // A group folds the layer before into all its members or into none.
      for (bool folded : {false, true}) {
        std::vector<size_t> members;
        for (size_t k = 0; k < stages.size(); ++k)
          if (d < stages[k].size() && stages[k][d].kind == kind &&
              stages[k][d].folds_input() == folded)
            members.push_back(k);
        for (const std::vector<size_t>& same_shape : by_shape(members, values))
          in_chunks(same_shape, kMaxGroupMembers, [&](const std::vector<size_t>& chunk) {
            run_layer(kind, chunk, stages, d, closing_norms, values);
          });
      }
    }
}

}  // namespace autonet::darts
