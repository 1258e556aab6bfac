// Module tree basics: naming, train/eval, Sequential.
#include "autograd/modules.h"

namespace autonet {

Variable Module::forward(const Variable&) {
  AN_THROW() << "module '" << name_ << "' has no single-input forward";
}

void Module::train(bool on) {
  training_ = on;
  for (Module* child : children_) child->train(on);
}

std::string Module::child_name(const std::string& local) const {
  return name_.empty() ? local : name_ + "." + local;
}

Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (auto& layer : layers_) y = layer->forward(y);
  return y;
}

}  // namespace autonet
