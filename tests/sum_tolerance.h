// Per-element tolerances for comparing two float32 twins (CUDA vs CPU): each element is bounded by
// the sum it is made of, not by one tolerance per buffer sized by the buffer's longest sum.
//
// An element that float32 code computes as a sum of n terms a_j picks up a rounding error at each
// addition, of about u·|partial sum| (u = 2⁻²⁴). With random-sign terms (the tests' random
// inputs) the partial sums stay within about sqrt(n·q), q = Σ a_j², so the error of a sequential
// sum is of order u·sqrt(n·q)·(a few) and that of the blocked and tree sums of BLAS and CUDA
// smaller. Two twins that sum in different orders differ by about the sum of their errors. So
//   |actual_i − expected_i| ≤ floor + rtol·|expected_i| + spread·u·sqrt(n_i·q_i)
// where n_i counts element i's own terms and q_i sums their squares: an element of a long sum of
// large terms gets a wide bound, one of a short sum a tight one. (sqrt(n·q) = n·rms(a): for terms
// x·w with x, w uniform in [−1, 1], rms = 1/3, and spread 20 gives 4e-7·n, the one bound per row
// that conv2d used before for its longest sum.)
//
// For an op that is a sum of products and linear in each input (convolutions, GEMMs, weighted
// sums), n_i and q_i come from the op itself run in float64: on inputs of ones every term is 1,
// so the output is n_i; on squared inputs every term is a_j², so the output is q_i.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace autonet::test {

// Element i's sum: its number of terms and the sum of their squares (both 0: not a sum).
struct SumTerms {
  std::vector<double> count, squares;
};

struct SumTolerance {
  double floor = 1e-6;   // absolute, for elements near zero
  double rtol = 1e-5;    // relative to the expected value: roundings of the element's own ops
  double spread = 20;    // multiples of u·sqrt(n·q), the typical rounding of the element's sum
};

constexpr double kFloat32Unit = 5.9604644775390625e-8;  // u = 2⁻²⁴

// The bound of one element: floor + rtol·|expected| + spread·u·sqrt(count·squares).
inline double element_tolerance(const SumTolerance& t, double expected, double count,
                                double squares) {
  return t.floor + t.rtol * std::abs(expected) + t.spread * kFloat32Unit * std::sqrt(count * squares);
}

// Each element's bound for `expected`; `terms` may be empty (no element is a sum: floor + rtol).
inline std::vector<double> sum_bounds(const std::vector<double>& expected, const SumTerms& terms,
                                      const SumTolerance& t) {
  std::vector<double> bounds(expected.size());
  const bool sums = !terms.count.empty();
  for (size_t i = 0; i < expected.size(); ++i)
    bounds[i] = element_tolerance(t, expected[i], sums ? terms.count[i] : 0,
                                  sums ? terms.squares[i] : 0);
  return bounds;
}

// Whole networks: an element of a network's gradient is no single sum whose terms one could
// count, so its own rounding is measured instead, as the distance of the float32 CPU twin from a
// float64 run of the same network on the same values. One draw of a rounding error can be near 0
// by chance, so each element's measure is floored by the RMS distance over its group (a parameter
// tensor: elements that are sums of the same length over terms of the same kind):
//   |actual_i − expected_i| ≤ floor + factor·max(|expected_i − reference_i|, rms of its group)
// Elements in no group (the flat buffer's padding) get the floor alone.
struct Group {
  int64_t begin, end;  // [begin, end) of the flat vector
  std::string name = {};  // for failure messages
};

inline std::vector<double> measured_bounds(const std::vector<double>& expected,
                                           const std::vector<double>& reference,
                                           const std::vector<Group>& groups, double factor,
                                           double floor) {
  std::vector<double> bounds(expected.size(), floor);
  for (const Group& g : groups) {
    double squares = 0;
    for (int64_t i = g.begin; i < g.end; ++i)
      squares += (expected[i] - reference[i]) * (expected[i] - reference[i]);
    const double rms = std::sqrt(squares / static_cast<double>(std::max<int64_t>(g.end - g.begin, 1)));
    for (int64_t i = g.begin; i < g.end; ++i)
      bounds[i] = floor + factor * std::max(std::abs(expected[i] - reference[i]), rms);
  }
  return bounds;
}

struct Mismatch {
  int64_t index;
  double actual, expected, bound;
};

// The elements of `actual` outside their own bound (non-finite values are always outside).
inline std::vector<Mismatch> outside_bounds(const std::vector<double>& actual,
                                            const std::vector<double>& expected,
                                            const std::vector<double>& bounds) {
  std::vector<Mismatch> bad;
  for (size_t i = 0; i < expected.size(); ++i)
    if (!(std::abs(actual[i] - expected[i]) <= bounds[i]))
      bad.push_back({static_cast<int64_t>(i), actual[i], expected[i], bounds[i]});
  return bad;
}

inline std::vector<Mismatch> outside_tolerance(const std::vector<double>& actual,
                                               const std::vector<double>& expected,
                                               const SumTerms& terms, const SumTolerance& t) {
  return outside_bounds(actual, expected, sum_bounds(expected, terms, t));
}

}  // namespace autonet::test
