// What every CNN cell — search, PC-DARTS, augment, ImageNet — starts with (reference darts.md
// §2.2; model.py and model_search.py alike): its two inputs, s0 from cell k−2 and s1 from cell
// k−1, brought to the cell's C channels. s1 goes through ReLU → 1×1 conv → BN; s0 likewise, or,
// after a reduction cell (s0 then has twice s1's resolution), through a FactorizedReduce.
// Parameters `preprocess0.*` and `preprocess1.*`, created before the cell's ops, as in the official
// modules.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/modules.h"
#include "darts/cnn/ops.h"

namespace autonet::darts {

class CnnCell : public Module {
 protected:
  // `context` sets the BNs' affine as for the ops: off in the search network, on when derived.
  CnnCell(ParameterStore& store, std::string name, int64_t c_pp, int64_t c_p, int64_t channels,
          bool reduction_prev, OpContext context);
  // [preprocess0(s0), preprocess1(s1)]: the cell's first two states. `grouped` (the search
  // network's, whose BNs are affine-free): a ReLUConvBN runs its ReLU and 1×1 conv as a pointwise
  // group (the ReLU folded in), a FactorizedReduce its convs as one op, and the two preprocessings'
  // BNs run as one batch-norm group, their 1×1 convs as one where their inputs share a shape.
  std::vector<Variable> preprocess(const Variable& s0, const Variable& s1,
                                   bool grouped = false) const;

 private:
  std::unique_ptr<Module> preprocess0_, preprocess1_;
};

}  // namespace autonet::darts
