// Parameter counts by name prefix, for the tests that check networks against the official counts.
#pragma once
#include <cstdint>
#include <string>

#include "autograd/parameters.h"

namespace autonet::darts {

// Σ numel of the parameters whose name starts with `prefix`.
inline int64_t count_with_prefix(const ParameterStore& store, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& [name, var] : store.named_parameters())
    if (name.rfind(prefix, 0) == 0) n += var.numel();
  return n;
}

}  // namespace autonet::darts
