#include "hpsearch/sobol.h"

#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// new-joe-kuo-6.21201, dimensions 2..32: degree s, inner coefficients a, initial m_1..m_s.
struct JoeKuoRow {
  int s;
  uint32_t a;
  std::array<uint32_t, 7> m;
};
constexpr JoeKuoRow kJoeKuo[] = {
    {1, 0, {1}},                           // d = 2
    {2, 1, {1, 3}},                        // 3
    {3, 1, {1, 3, 1}},                     // 4
    {3, 2, {1, 1, 1}},                     // 5
    {4, 1, {1, 1, 3, 3}},                  // 6
    {4, 4, {1, 3, 5, 13}},                 // 7
    {5, 2, {1, 1, 5, 5, 17}},              // 8
    {5, 4, {1, 1, 5, 5, 5}},               // 9
    {5, 7, {1, 1, 7, 11, 19}},             // 10
    {5, 11, {1, 1, 5, 1, 1}},              // 11
    {5, 13, {1, 1, 1, 3, 11}},             // 12
    {5, 14, {1, 3, 5, 5, 31}},             // 13
    {6, 1, {1, 3, 3, 9, 7, 49}},           // 14
    {6, 13, {1, 1, 1, 15, 21, 21}},        // 15
    {6, 16, {1, 3, 1, 13, 27, 49}},        // 16
    {6, 19, {1, 1, 1, 15, 7, 5}},          // 17
    {6, 22, {1, 3, 1, 15, 13, 25}},        // 18
    {6, 25, {1, 1, 5, 5, 19, 61}},         // 19
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},    // 20
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},     // 21
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},      // 22
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},       // 23
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},    // 24
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},     // 25
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},    // 26
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},      // 27
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},      // 28
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},     // 29
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},     // 30
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},     // 31
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},     // 32
};
static_assert(std::size(kJoeKuo) + 1 == SobolSequence::kMaxDims);

constexpr int kBits = SobolSequence::kBits;

// Direction numbers of dimension d (0-based) as 32-bit fractions: v[k] = m_{k+1} · 2^(31−k).
std::array<uint32_t, kBits> direction_numbers(int d) {
  std::array<uint32_t, kBits> v{};
  if (d == 0) {
    for (int k = 0; k < kBits; ++k) v[k] = uint32_t{1} << (kBits - 1 - k);
    return v;
  }
  const JoeKuoRow& row = kJoeKuo[d - 1];
  const int s = row.s;
  for (int k = 0; k < s; ++k) v[k] = row.m[k] << (kBits - 1 - k);
  // The recurrence on m, written on the scaled v: 2^j m_{k−j} / 2^k = v_{k−j}, and the final
  // m_{k−s} term is v_{k−s} / 2^s.
  for (int k = s; k < kBits; ++k) {
    v[k] = v[k - s] ^ (v[k - s] >> s);
    for (int j = 1; j < s; ++j)
      if ((row.a >> (s - 1 - j)) & 1u) v[k] ^= v[k - j];
  }
  return v;
}

// Parity of the set bits of x.
uint32_t parity(uint32_t x) { return static_cast<uint32_t>(__builtin_parity(x)); }

}  // namespace

SobolSequence::SobolSequence(int dims) : dims_(dims) {
  AN_CHECK(dims >= 1 && dims <= kMaxDims)
      << "Sobol sequence: 1 to " << kMaxDims << " dimensions, got " << dims;
  for (int d = 0; d < dims; ++d) v_.push_back(direction_numbers(d));
  shift_.assign(static_cast<size_t>(dims), 0);
}

SobolSequence::SobolSequence(int dims, uint64_t scramble_seed) : SobolSequence(dims) {
  SuggestionRng rng(scramble_seed, -2);  // a stream no suggestion uses
  auto bits = [&](int n) { return static_cast<uint32_t>(rng.below(uint64_t{1} << n)); };
  for (int d = 0; d < dims; ++d) {
    // Row r of the lower-triangular matrix acts on digits 0..r (digit r = bit 31 − r): random
    // bits above the diagonal digit, which is always 1 (so the matrix is invertible).
    std::array<uint32_t, kBits> row{};
    for (int r = 0; r < kBits; ++r) {
      const uint32_t diagonal = uint32_t{1} << (kBits - 1 - r);
      const uint32_t above = r == 0 ? 0u : bits(r) << (kBits - r);
      row[r] = diagonal | above;
    }
    for (uint32_t& v : v_[d]) {
      uint32_t scrambled = 0;
      for (int r = 0; r < kBits; ++r) scrambled |= parity(row[r] & v) << (kBits - 1 - r);
      v = scrambled;
    }
    shift_[d] = bits(kBits);
  }
}

std::vector<double> SobolSequence::point(uint64_t index) const {
  AN_CHECK(index < (uint64_t{1} << kBits)) << "Sobol sequence: only 2^32 points, asked for point " << index;
  const uint64_t gray = index ^ (index >> 1);
  std::vector<double> x(static_cast<size_t>(dims_));
  for (int d = 0; d < dims_; ++d) {
    uint32_t bits = shift_[d];
    for (int k = 0; k < kBits; ++k)
      if ((gray >> k) & 1u) bits ^= v_[d][k];
    x[d] = static_cast<double>(bits) * (1.0 / 4294967296.0);
  }
  return x;
}

SobolSampler::SobolSampler(Space space, uint64_t seed, bool scramble)
    : OpenLoopSampler(std::move(space)),
      sequence_(scramble ? SobolSequence(static_cast<int>(space_.size()), seed)
                         : SobolSequence(static_cast<int>(space_.size()))) {}

std::optional<Json> SobolSampler::ask(int64_t index) {
  AN_CHECK(index >= 0) << "sampler 'sobol': negative suggestion index " << index;
  return space_.params_json(space_.decode(sequence_.point(static_cast<uint64_t>(index))));
}

}  // namespace autonet::hpsearch
