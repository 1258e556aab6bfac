// exp, tanh and sigmoid of a float from plain arithmetic (no libm call), so that a CPU loop
// calling them vectorises: libm's expf and tanhf are scalar calls, and the recurrent cell spends
// most of its CPU time in them (docs/performance.md). Within a few ulp of libm's
// (VectorMath.* in tests/kernels/test_vector_math.cpp); host code only (the CUDA twins keep the
// device's own functions).
#pragma once
#include <bit>
#include <cstdint>

namespace autonet {

// c ? a : b by bit masks, a choice the compiler keeps branch-free. A ?: becomes a branch where an
// arm may trap (a division) or folds to a constant (a clamp's end, which GCC's partial redundancy
// elimination then carries into everything computed after it), and a branch keeps the loop that
// calls these from vectorising.
inline float select_f32(bool c, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) |
                              (std::bit_cast<uint32_t>(b) & ~mask));
}

// e^x for x ≥ −87.3 (below: 0, where libm's expf gives a subnormal or 0: a softmax's far
// logits are exactly 0) and x ≤ 88 (above: e^88). x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a
// degree-7 polynomial (Cephes' expf), 2^n written into the exponent bits.
inline float exp_f32(float x) {
  const bool underflows = x < -87.33654f;
  x = select_f32(underflows, -87.33654f, x);
  x = select_f32(x > 88.0f, 88.0f, x);
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23: adding it and taking it away rounds
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return select_f32(underflows, 0.0f,
                    p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23));
}

// tanh: an odd polynomial near 0 (|x| < 0.625, where 1 − 2/(e^2|x| + 1) would cancel), else
// 1 − 2/(e^2|x| + 1) with x's sign (Cephes' tanhf); both computed, one kept.
inline float tanh_f32(float x) {
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const uint32_t sign = std::bit_cast<uint32_t>(x) & 0x80000000u;
  const float a = std::bit_cast<float>(std::bit_cast<uint32_t>(x) ^ sign);  // |x|
  const float large = 1.0f - 2.0f / (exp_f32(a + a) + 1.0f);
  return select_f32(a < 0.625f, small, std::bit_cast<float>(std::bit_cast<uint32_t>(large) | sign));
}

// 1 / (1 + e^−x).
inline float sigmoid_f32(float x) {
  return 1.0f / (1.0f + exp_f32(-x));
}

}  // namespace autonet
