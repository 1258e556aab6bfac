// A sum whose order does not depend on the vector width: term(i) for i in [0, n) added into
// kLanes lanes (i, i + kLanes, ... in lane i mod kLanes; the tail past the last whole group into
// lane 0), the lanes then added pairwise ((l0 + l1) + (l2 + l3)) + .... The loop over a group's
// lanes vectorises on any instruction set in the same order, so every CPU level gives the same
// bits (runtime/cpu_isa.h); `#pragma omp simd reduction` would let the width choose the order.
// Always inlined: defined before a variant's kernels (kernels/cpu/isa.h), it is baseline code, and
// only once inside the caller can `term` (the caller's level) inline into it and vectorise.
#pragma once
#include <cstdint>

namespace autonet::cpu {

template <int kLanes, class Acc, class Term>
[[gnu::always_inline]] inline Acc sum_in_lanes(int64_t n, Term term) {
  static_assert(kLanes > 0 && (kLanes & (kLanes - 1)) == 0, "a power of two: a pairwise tree");
  Acc lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += term(i + l);
  for (; i < n; ++i) lanes[0] += term(i);
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) lanes[l] = lanes[2 * l] + lanes[2 * l + 1];
  return lanes[0];
}

// Two such sums over the same positions in one pass: a = Σ term_a(i) and b = Σ term_b(i), each in
// kLanes lanes as sum_in_lanes adds them (the same bits as two calls). `omp simd` on the groups'
// loop: without it GCC kept the two lane arrays in memory (~1.8× slower).
template <int kLanes, class Acc, class TermA, class TermB>
[[gnu::always_inline]] inline void sums_in_lanes(int64_t n, TermA term_a, TermB term_b, Acc& a,
                                                 Acc& b) {
  static_assert(kLanes > 0 && (kLanes & (kLanes - 1)) == 0, "a power of two: a pairwise tree");
  Acc la[kLanes] = {}, lb[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) la[l] += term_a(i + l), lb[l] += term_b(i + l);
  for (; i < n; ++i) la[0] += term_a(i), lb[0] += term_b(i);
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l)
      la[l] = la[2 * l] + la[2 * l + 1], lb[l] = lb[2 * l] + lb[2 * l + 1];
  a = la[0], b = lb[0];
}

}  // namespace autonet::cpu
