// What the CNN network tests build and feed a network, and how they compare its outputs.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "darts/cnn/augment_model.h"
#include "darts/cnn/search_model.h"
#include "runtime/tensor.h"

namespace autonet::darts {

// The smallest networks of the tests: C = 4 and 3 cells (a normal cell, then the two reduction
// cells), the other sizes the defaults.
inline SearchConfig tiny_search_config() {
  SearchConfig c;
  c.channels = 4;
  c.layers = 3;
  return c;
}
inline AugmentConfig tiny_augment_config() {
  AugmentConfig c;
  c.channels = 4;
  c.layers = 3;
  return c;
}

// Uniform in [-1, 1) from `seed`.
inline Variable random_input(const Shape& shape, uint64_t seed, DType dtype = DType::f32) {
  Tensor t = Tensor::empty(shape, dtype);
  fill_uniform(t, -1.0, 1.0, seed);
  return Variable(t);
}

// A label vector [n].
inline Tensor labels(std::vector<int64_t> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Tensor::from_vector(values, {n});
}

// max |a − b| relative to the largest |a|: f32 sums in another order differ by rounding only.
inline void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                         const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(a[i])));
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  EXPECT_GT(scale, 0.0) << what;
  EXPECT_LE(diff, tol * scale) << what;
}

}  // namespace autonet::darts
