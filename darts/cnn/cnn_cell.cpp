// The preprocessing of a CNN cell's two inputs (reference darts.md §2.2).
#include "darts/cnn/cnn_cell.h"

#include "darts/cnn/state_pipeline.h"

namespace autonet::darts {

CnnCell::CnnCell(ParameterStore& store, std::string name, int64_t c_pp, int64_t c_p,
                 int64_t channels, bool reduction_prev, OpContext context)
    : Module(std::move(name)) {
  const bool affine = context == OpContext::augment;
  if (reduction_prev)
    preprocess0_ = std::make_unique<FactorizedReduce>(store, child_name("preprocess0"), c_pp,
                                                      channels, affine);
  else
    preprocess0_ = std::make_unique<ReLUConvBN>(store, child_name("preprocess0"), c_pp, channels, 1,
                                                1, 0, affine);
  preprocess1_ = std::make_unique<ReLUConvBN>(store, child_name("preprocess1"), c_p, channels, 1, 1,
                                              0, affine);
  register_child(*preprocess0_);
  register_child(*preprocess1_);
}

std::vector<Variable> CnnCell::preprocess(const Variable& s0, const Variable& s1,
                                          bool grouped) const {
  if (!grouped) return {preprocess0_->forward(s0), preprocess1_->forward(s1)};
  // Each ReLUConvBN whose layers run as stages does so, the two as one group where their inputs
  // share a shape; a FactorizedReduce runs as itself.
  const std::vector<Module*> modules{preprocess0_.get(), preprocess1_.get()};
  std::vector<Variable> states{s0, s1};
  std::vector<std::vector<OpStage>> stages(2);
  for (size_t k = 0; k < 2; ++k)
    if (auto* relu_conv_bn = dynamic_cast<ReLUConvBN*>(modules[k]))
      stages[k] = relu_conv_bn->stages();
  if (!stages[0].empty() && !stages[1].empty() && s0.shape() == s1.shape()) {
    run_stages(states, stages);
    return states;
  }
  for (size_t k = 0; k < 2; ++k) {
    if (stages[k].empty()) {
      states[k] = modules[k]->forward(states[k]);
      continue;
    }
    std::vector<Variable> alone{states[k]};
    run_stages(alone, {stages[k]});
    states[k] = alone[0];
  }
  return states;
}

}  // namespace autonet::darts
