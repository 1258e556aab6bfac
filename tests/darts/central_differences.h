// Central finite differences over entries of a float64 tensor (α in the architect tests).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/tensor.h"

namespace autonet::test {

// (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps) for each probed flat index i of x (contiguous
// f64, host); x is left as it was.
inline std::vector<double> central_differences(Tensor x, const std::vector<int64_t>& probes,
                                               double eps, const std::function<double()>& f) {
  std::vector<double> out;
  double* data = x.data<double>();
  for (int64_t i : probes) {
    const double saved = data[i];
    data[i] = saved + eps;
    const double plus = f();
    data[i] = saved - eps;
    const double minus = f();
    data[i] = saved;
    out.push_back((plus - minus) / (2 * eps));
  }
  return out;
}

}  // namespace autonet::test
