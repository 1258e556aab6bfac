// Random numbers for one suggestion: Philox keyed by the study seed on the sampler's stream, at an
// offset fixed by the suggestion's index. A suggestion therefore depends only on (seed, index,
// what the sampler was told), never on how many numbers earlier suggestions consumed: that is
// what makes a resumed study suggest exactly what an uninterrupted one would.
#pragma once
#include <cstdint>

#include "runtime/philox.h"

namespace autonet::hpsearch {

class SuggestionRng {
 public:
  static constexpr uint32_t kStream = 0x4850u;             // "HP"
  static constexpr uint64_t kBlocksPerSuggestion = 1u << 24;  // 64M words: never exhausted

  SuggestionRng(uint64_t seed, int64_t index)
      : key_{seed, kStream, static_cast<uint64_t>(index) * kBlocksPerSuggestion} {}

  // Uniform in [0, 1) with 53 random bits.
  double uniform() {
    const uint64_t hi = philox_bits(key_, next_++) >> 5;  // 27 bits
    const uint64_t lo = philox_bits(key_, next_++) >> 6;  // 26 bits
    return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
  }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) {
    const uint64_t k = static_cast<uint64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  PhiloxKey key_;
  uint64_t next_ = 0;
};

}  // namespace autonet::hpsearch
