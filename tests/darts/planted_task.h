// The pieces of a planted task, shared by the CNN and recurrent α tests
// (tests/darts/tasks/test_search_learns.cpp, tests/darts/rnn/test_planted_alpha.cpp): targets made
// by the network itself with α one-hot on one op, which α must then come to rank first.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace autonet::test {

// Every row (edge) of the α matrix `a`: 20 on `op`, 0 elsewhere.
inline void set_one_hot(Tensor a, int64_t op) {
  const int64_t edges = a.size(0), ops = a.size(1);
  float* p = a.data<float>();
  for (int64_t e = 0; e < edges; ++e)
    for (int64_t k = 0; k < ops; ++k) p[e * ops + k] = k == op ? 20.f : 0.f;
}

// The argmax of each row of `logits` [rows, classes] after centring every class over the rows,
// so every class occurs (an untrained network favours one class for all rows).
inline Tensor centred_argmax(const std::vector<float>& logits, int64_t rows, int64_t classes) {
  std::vector<double> mean(classes, 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < classes; ++c) mean[c] += logits[i * classes + c] / rows;
  std::vector<int64_t> labels(rows);
  for (int64_t i = 0; i < rows; ++i) {
    const auto centred = [&](int64_t c) { return logits[i * classes + c] - mean[c]; };
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (centred(c) > centred(best)) best = c;
    labels[i] = best;
  }
  return Tensor::from_vector(labels, {rows});
}

// The op other than `none` (column 0) with the largest mean weight, as genotype derivation ranks
// them.
inline int64_t top_op(const std::vector<double>& mean) {
  return std::max_element(mean.begin() + 1, mean.end()) - mean.begin();
}

// "name weight  name weight ..." for failure messages.
inline std::string describe(const std::vector<double>& mean, const std::vector<std::string>& names) {
  std::string s;
  for (size_t k = 0; k < mean.size(); ++k) s += names[k] + " " + std::to_string(mean[k]) + "  ";
  return s;
}

}  // namespace autonet::test
