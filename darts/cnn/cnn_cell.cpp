// The preprocessing of a CNN cell's two inputs (reference darts.md §2.2).
#include "darts/cnn/cnn_cell.h"

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

std::vector<Variable> CnnCell::preprocess(const Variable& s0, const Variable& s1) const {
  return {preprocess0_->forward(s0), preprocess1_->forward(s1)};
}

}  // namespace autonet::darts
