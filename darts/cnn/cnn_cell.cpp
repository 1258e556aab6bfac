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
  // Each preprocessing whose layers run as stages does so, layer by layer with the other's where
  // their values share a shape (run_stages): the two 1×1 convs as one group when their inputs
  // agree, the two BNs as one group whenever (their outputs always agree).
  const std::vector<Module*> modules{preprocess0_.get(), preprocess1_.get()};
  std::vector<Variable> states{s0, s1}, staged;
  std::vector<std::vector<OpStage>> stages;
  std::vector<size_t> staged_index;
  for (size_t k = 0; k < 2; ++k) {
    std::vector<OpStage> own;
    if (auto* relu_conv_bn = dynamic_cast<ReLUConvBN*>(modules[k])) own = relu_conv_bn->stages();
    if (auto* reduce = dynamic_cast<FactorizedReduce*>(modules[k])) own = reduce->stages();
    if (own.empty()) {
      states[k] = modules[k]->forward(states[k]);
      continue;
    }
    staged.push_back(states[k]);
    stages.push_back(std::move(own));
    staged_index.push_back(k);
  }
  run_stages(staged, stages);
  for (size_t i = 0; i < staged.size(); ++i) states[staged_index[i]] = staged[i];
  return states;
}

}  // namespace autonet::darts
