// Sobol' low-discrepancy points and the `sobol` sampler.
//
// Construction (Bratley & Fox; Joe & Kuo, "Constructing Sobol sequences with better
// two-dimensional projections", SIAM J. Sci. Comput. 30, 2008): dimension 1 is van der Corput in
// base 2; dimension d ≥ 2 has a primitive polynomial of degree s over GF(2) with inner
// coefficients a and initial odd numbers m_1..m_s (the published new-joe-kuo-6.21201 table, its
// first 31 rows here), and direction numbers v_k = m_k / 2^k from the recurrence
//   m_k = 2a_1 m_{k−1} ⊕ 2²a_2 m_{k−2} ⊕ … ⊕ 2^{s−1}a_{s−1} m_{k−s+1} ⊕ 2^s m_{k−s} ⊕ m_{k−s}.
// Point i is the XOR of the v_k of the set bits of its Gray code i ⊕ (i >> 1) (the Antonov–Saleev
// order, as scipy.stats.qmc.Sobol): 0, 1/2, 3/4, 1/4, 3/8, 7/8, ... in dimension 1. 32-bit
// digits: 2^32 points.
//
// Scrambling (optional, deterministic from a seed): Matoušek's linear matrix scramble (a random
// lower-triangular binary matrix with unit diagonal per dimension applied to the digits of every
// direction number) and a random digital shift. Both keep the (t, m, s)-net structure: the
// first 2^m points stay exactly as stratified, and point 0 is no longer the corner 0.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hpsearch/sampler.h"

namespace autonet::hpsearch {

class SobolSequence {
 public:
  static constexpr int kMaxDims = 32;
  static constexpr int kBits = 32;

  explicit SobolSequence(int dims);             // the plain sequence
  SobolSequence(int dims, uint64_t scramble_seed);  // scrambled from the seed

  int dims() const { return dims_; }
  // Point `index` (0-based) in [0, 1)^dims.
  std::vector<double> point(uint64_t index) const;

 private:
  int dims_;
  std::vector<std::array<uint32_t, kBits>> v_;  // v_[d][k]: direction number k+1, bit 31 = 1/2
  std::vector<uint32_t> shift_;                 // digital shift per dimension (0: none)
};

// {"name": "sobol", "scramble": true}: suggestion i is point i of the (scrambled, by default)
// sequence over the unit cube of the space; up to SobolSequence::kMaxDims parameters. Unscrambled,
// suggestion 0 is every parameter's lower bound. Balance is best over the first 2^k trials.
class SobolSampler : public OpenLoopSampler {
 public:
  SobolSampler(Space space, uint64_t seed, bool scramble);
  std::string name() const override { return "sobol"; }
  std::optional<Json> ask(int64_t index) override;

 private:
  SobolSequence sequence_;
};

}  // namespace autonet::hpsearch
