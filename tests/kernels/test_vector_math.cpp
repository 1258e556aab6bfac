// kernels/vector_math.h against libm: the float exp, tanh and sigmoid the CPU kernels use, over
// every float in their working range at a fine step, and at the ends of the range.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "kernels/vector_math.h"

namespace autonet::test {
namespace {

// How many floats lie between a and b (0: the same float); a sign change counts as far.
int64_t ulps_apart(float a, float b) {
  if (a == b) return 0;
  if (std::signbit(a) != std::signbit(b)) return INT64_MAX;
  return std::llabs(int64_t{std::bit_cast<int32_t>(a)} - std::bit_cast<int32_t>(b));
}

// f lies within `ulps` of reference over [lo, hi], stepping by a relative 1e-5 (plus a tiny
// absolute step through 0): ~2 million points across the ranges below; a failure names the worst x.
template <class F, class R>
void expect_within_ulps(F f, R reference, float lo, float hi, int64_t ulps) {
  int64_t worst = 0;
  float at = 0;
  for (float x = lo; x <= hi; x = std::nextafter(x + std::abs(x) * 1e-5f + 1e-9f, hi + 1)) {
    const int64_t d = ulps_apart(f(x), reference(x));
    if (d > worst) worst = d, at = x;
  }
  EXPECT_LE(worst, ulps) << "at x = " << at;
}

TEST(VectorMath, ExpIsWithinOneUlpOfLibm) {
  expect_within_ulps(
      exp_f32, [](float x) { return std::exp(x); }, -87.0f, 88.0f, 1);
  EXPECT_EQ(exp_f32(0.0f), 1.0f);
  EXPECT_GE(exp_f32(-87.33f), std::ldexp(1.0f, -126));  // the smallest normal float, about
  EXPECT_EQ(exp_f32(-87.34f), 0.0f);  // below it 0 (libm: subnormals): a far logit's exp is 0
  EXPECT_EQ(exp_f32(-1000.0f), 0.0f);
  EXPECT_EQ(exp_f32(1000.0f), exp_f32(88.0f));  // clamped: e^88, not infinity
  EXPECT_TRUE(std::isfinite(exp_f32(88.0f)));
}

TEST(VectorMath, TanhIsWithinTwoUlpsOfLibm) {
  expect_within_ulps(
      tanh_f32, [](float x) { return std::tanh(x); }, -30.0f, 30.0f, 2);
  EXPECT_EQ(tanh_f32(0.0f), 0.0f);
  EXPECT_EQ(tanh_f32(1e-30f), 1e-30f);  // the odd polynomial keeps tiny values exact
  EXPECT_EQ(tanh_f32(100.0f), 1.0f);
  EXPECT_EQ(tanh_f32(-100.0f), -1.0f);
}

TEST(VectorMath, SigmoidIsWithinFourUlpsOfLibmsFormula) {
  auto reference = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  expect_within_ulps(sigmoid_f32, reference, -30.0f, 30.0f, 4);
  EXPECT_EQ(sigmoid_f32(0.0f), 0.5f);
  EXPECT_EQ(sigmoid_f32(100.0f), 1.0f);
  EXPECT_GT(sigmoid_f32(-100.0f), 0.0f);
  EXPECT_LT(sigmoid_f32(-100.0f), 1e-37f);
}

TEST(VectorMath, SelectTakesEitherSideBitForBit) {
  EXPECT_EQ(std::bit_cast<uint32_t>(select_f32(true, -0.0f, 1.0f)), 0x80000000u);
  EXPECT_EQ(select_f32(false, -0.0f, 1.5f), 1.5f);
}

}  // namespace
}  // namespace autonet::test
