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
  auto* p0 = dynamic_cast<ReLUConvBN*>(preprocess0_.get());
  auto* p1 = dynamic_cast<ReLUConvBN*>(preprocess1_.get());
  if (grouped && p0 && p1 && s0.shape() == s1.shape()) {
    std::vector<std::vector<OpStage>> stages{p0->stages(), p1->stages()};
    if (!stages[0].empty() && !stages[1].empty()) {
      std::vector<Variable> states{s0, s1};
      run_stages(states, stages);
      return states;
    }
  }
  return {preprocess0_->forward(s0), preprocess1_->forward(s1)};
}

}  // namespace autonet::darts
