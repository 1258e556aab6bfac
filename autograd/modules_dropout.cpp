// Dropout module.
#include "autograd/modules.h"

namespace autonet {

Variable Dropout::forward(const Variable& x) {
  if (!training() || p == 0.0) return x;
  return dropout(x, p, generator.next(static_cast<uint64_t>(x.numel())));
}

}  // namespace autonet
