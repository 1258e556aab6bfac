// The Accumulate contract of a backward kernel, bit for bit on the CPU: an added dx is the
// written one added with axpby (the path it replaces in autograd, GradTarget::finish).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "runtime/tensor.h"

namespace autonet::test {

// backward(dx, mode) runs the kernel under test into dx [shape] of `dtype`: once written into a
// buffer of 7s, once added into a random gradient; the second must equal the first added to that
// gradient by axpby, exactly.
inline void expect_added_dx_is_written_dx_plus_axpby(
    const Shape& shape, DType dtype, const std::function<void(Tensor&, GradMode)>& backward) {
  Tensor written = Tensor::full(shape, 7.0, dtype), added = Tensor::empty(shape, dtype);
  fill_uniform(added, -1.0, 1.0, 99);
  Tensor expected = added.clone();
  backward(written, GradMode::Write);
  backward(added, GradMode::Accumulate);
  axpby(1.0, written, 1.0, expected);
  EXPECT_EQ(std::memcmp(added.raw_data(), expected.raw_data(), added.nbytes()), 0)
      << "an added dx differs from the written one added with axpby";
}

}  // namespace autonet::test
