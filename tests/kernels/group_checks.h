// Helpers of the group families' own checks (cases_*_group.cpp): a group's members against the
// single op each one is, bit for bit on the CPU.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "runtime/tensor.h"

namespace autonet::test {

// A CPU tensor of `dtype`, uniform in [−1, 1) from Philox (never all zero).
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  fill_uniform(t, -1.0, 1.0, seed);
  return t;
}

// got holds exactly want's bits (same shape and dtype).
inline void expect_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()), 0)
      << what << " differs from the single op's";
}

}  // namespace autonet::test
