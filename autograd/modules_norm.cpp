// BatchNorm modules.
#include "autograd/modules.h"

namespace autonet {

BatchNorm::BatchNorm(ParameterStore& store, std::string name, int64_t channels, bool affine,
                     int64_t input_dim, double momentum, double eps)
    : Module(std::move(name)), momentum(momentum), eps(eps), input_dim_(input_dim) {
  if (affine) {
    weight = store.add_parameter(child_name("weight"), {channels}, Init::uniform(0.0, 1.0));
    bias = store.add_parameter(child_name("bias"), {channels}, Init::zeros());
  }
  running_mean = store.add_buffer(child_name("running_mean"), {channels}, Init::zeros());
  running_var = store.add_buffer(child_name("running_var"), {channels}, Init::constant(1.0));
}

Variable BatchNorm::forward(const Variable& x) {
  AN_CHECK(x.dim() == input_dim_) << "'" << name() << "' expects a " << input_dim_
                                  << "-D input, got " << x.value().describe();
  return batch_norm(x, weight, bias, running_mean.value(), running_var.value(), params());
}

BatchNormParams BatchNorm::params() const {
  BatchNormParams p;
  p.training = training();
  p.momentum = momentum;
  p.eps = eps;
  return p;
}

}  // namespace autonet
