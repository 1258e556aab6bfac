// tests/sum_tolerance.h on crafted cases: each element's bound follows its own sum.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/sum_tolerance.h"

namespace autonet::test {
namespace {

TEST(SumTolerance, ALongSumOfLargeTermsGetsAWiderBoundThanAShortOne) {
  const SumTolerance t{1e-6, 1e-5, 20};
  // Same expected value 1: 16 terms of rms 1/3 against 65,536 of rms 1/3 (q = n/9).
  const double short_sum = element_tolerance(t, 1.0, 16, 16 / 9.0);
  const double long_sum = element_tolerance(t, 1.0, 65536, 65536 / 9.0);
  EXPECT_NEAR(short_sum, 1e-6 + 1e-5 + 20 * kFloat32Unit * 16 / 3.0, 1e-15);
  EXPECT_NEAR(long_sum, 1e-6 + 1e-5 + 20 * kFloat32Unit * 65536 / 3.0, 1e-12);
  EXPECT_GT(long_sum, 100 * short_sum);
  // Same length, larger terms: wider. Not a sum: floor and rtol alone.
  EXPECT_GT(element_tolerance(t, 1.0, 16, 16 * 4.0), short_sum);
  EXPECT_EQ(element_tolerance(t, -2.0, 0, 0), 1e-6 + 2e-5);
}

TEST(SumTolerance, EachElementIsJudgedByItsOwnBound) {
  const SumTolerance t{1e-6, 1e-5, 20};
  // Element 0: a 16-term sum (bound ≈ 1.7e-5); element 1: a 65,536-term sum (≈ 2.6e-2).
  const SumTerms terms{{16, 65536, 16}, {16 / 9.0, 65536 / 9.0, 16 / 9.0}};
  const std::vector<double> expected{1.0, 1.0, 1.0};
  // An error of 1e-3 is rounding for the long sum, a wrong value for the short one.
  const std::vector<Mismatch> bad = outside_tolerance({1.001, 1.001, 1.0}, expected, terms, t);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].index, 0);
  EXPECT_EQ(bad[0].actual, 1.001);
  EXPECT_NEAR(bad[0].bound, element_tolerance(t, 1.0, 16, 16 / 9.0), 0);
  // Beyond the long sum's own bound it is caught too; within every bound nothing is.
  EXPECT_EQ(outside_tolerance({1.0, 1.05, 1.0}, expected, terms, t).size(), 1u);
  EXPECT_TRUE(outside_tolerance({1.00001, 1.01, 0.99999}, expected, terms, t).empty());
}

TEST(SumTolerance, NonFiniteValuesAreAlwaysOutside) {
  const SumTolerance t{1e-6, 1e-5, 20};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const SumTerms huge{{1e9, 1e9}, {1e9, 1e9}};
  EXPECT_EQ(outside_tolerance({nan, inf}, {1.0, 1.0}, huge, t).size(), 2u);
  EXPECT_EQ(outside_tolerance({nan}, {1.0}, SumTerms{}, t).size(), 1u);  // no sums: floor + rtol
}

// Whole networks: each element's bound follows its own measured rounding (float32 against
// float64), floored by its group's RMS.
TEST(MeasuredBounds, EachElementFollowsItsOwnRoundingFlooredByItsGroup) {
  // Group [0, 4): distances 0, 1e-6, 1e-6, 4e-6 (RMS ≈ 2.1e-6); group [4, 6): distances 1e-3
  // and 0 (RMS ≈ 7.1e-4); element 6 is padding.
  const std::vector<double> expected{1, 1, 1, 1, 5, 5, 0};
  const std::vector<double> reference{1, 1 + 1e-6, 1 - 1e-6, 1 + 4e-6, 5 + 1e-3, 5, 0};
  const std::vector<double> b = measured_bounds(expected, reference, {{0, 4}, {4, 6}}, 8, 1e-9);
  const double rms0 = std::sqrt((2e-12 + 16e-12) / 4), rms1 = std::sqrt(1e-6 / 2);
  EXPECT_NEAR(b[0], 1e-9 + 8 * rms0, 1e-15);  // no own distance: its group's RMS
  EXPECT_NEAR(b[3], 1e-9 + 8 * 4e-6, 1e-15);  // its own, larger than the RMS
  EXPECT_NEAR(b[4], 1e-9 + 8 * 1e-3, 1e-12);
  EXPECT_NEAR(b[5], 1e-9 + 8 * rms1, 1e-12);  // a quiet element of a noisy group
  EXPECT_EQ(b[6], 1e-9);
  EXPECT_GT(b[3], b[1]);
  // 1e-4 off is rounding for group 1, a wrong value in group 0; the padding must be exact.
  const std::vector<Mismatch> bad =
      outside_bounds({1 + 1e-4, 1, 1, 1, 5 + 1e-4, 5 - 1e-4, 1e-6}, expected, b);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].index, 0);
  EXPECT_EQ(bad[1].index, 6);
}

}  // namespace
}  // namespace autonet::test
