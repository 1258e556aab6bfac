// Linear module.
#include <cmath>

#include "autograd/modules.h"

namespace autonet {

Linear::Linear(ParameterStore& store, std::string name, int64_t in_features,
               int64_t out_features, bool with_bias)
    : Module(std::move(name)) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight = store.add_parameter(child_name("weight"), {out_features, in_features},
                               Init::uniform(-bound, bound));
  if (with_bias)
    bias = store.add_parameter(child_name("bias"), {out_features}, Init::uniform(-bound, bound));
}

Variable Linear::forward(const Variable& x) { return linear(x, weight, bias); }

}  // namespace autonet
