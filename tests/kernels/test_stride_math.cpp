// The gather kernels' stride arithmetic (kernels/stride_math.h) is plain division: its shortcuts
// for strides 1 and 2 and its general path agree with / and % wherever they are defined.
#include <gtest/gtest.h>

#include "kernels/stride_math.h"

namespace autonet {
namespace {

TEST(StrideMath, DividesAsDivisionDoes) {
  for (int stride = 1; stride <= 5; ++stride)
    for (int t = 0; t < 200; ++t) EXPECT_EQ(divide_by_stride(t, stride), t / stride) << t;
}

TEST(StrideMath, ExactQuotientIsMinusOneUnlessTheStrideDividesANonNegativeOffset) {
  for (int stride = 1; stride <= 5; ++stride)
    for (int t = -20; t < 200; ++t) {
      const int expected = t >= 0 && t % stride == 0 ? t / stride : -1;
      EXPECT_EQ(exact_stride_quotient(t, stride), expected) << t << " / " << stride;
    }
}

}  // namespace
}  // namespace autonet
