// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). The same (key, counter) gives the same
// four words on the host and on the device, so dropout masks, crops and cutout boxes drawn by a
// CPU kernel and its CUDA twin are identical: stochastic ops get exact parity tests.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define AN_HOST_DEVICE __host__ __device__ __forceinline__
#define AN_UNROLL _Pragma("unroll")  // host and device code: unrolled on the device
#else
#define AN_HOST_DEVICE inline
#define AN_UNROLL
#endif

namespace autonet {

struct Philox4 {
  uint32_t v[4];
};

AN_HOST_DEVICE void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

// One block of 4 random words for counter (c0..c3) under key (k0, k1): 10 rounds.
AN_HOST_DEVICE Philox4 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                  uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kMul0, c0, hi0, lo0);
    philox_mulhilo(kMul1, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// Where a random number comes from: the run's seed, a named stream (dropout of layer 3, cutout,
// ...) and an offset that advances with each use. Element i of a draw uses counter offset + i/4.
// offset_base (null: none) points to a further offset in the memory of the device that draws,
// read when the draw runs: a key recorded into a CUDA graph then draws new numbers at every
// replay, the caller moving *offset_base on between replays (PhiloxGenerator::anchor).
struct PhiloxKey {
  uint64_t seed = 0;
  uint32_t stream = 0;
  uint64_t offset = 0;  // in blocks of 4 words
  const uint64_t* offset_base = nullptr;

  // The counter block of element `index`.
  AN_HOST_DEVICE uint64_t block(uint64_t index) const {
    return offset + (offset_base ? *offset_base : 0) + index / 4;
  }
};

// The four words behind the uniforms of counter block `block` (indices 4·(block − offset) to
// 4·(block − offset) + 3): a caller drawing consecutive indices draws each block once.
AN_HOST_DEVICE Philox4 philox_uniform_block(const PhiloxKey& key, uint64_t block) {
  return philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), key.stream,
                    0u, static_cast<uint32_t>(key.seed), static_cast<uint32_t>(key.seed >> 32));
}

// Word `lane` (0–3) of a block, chosen by selects: indexing the array by a value known only at
// run time would put it in a GPU thread's local memory.
AN_HOST_DEVICE uint32_t philox_word(const Philox4& r, uint64_t lane) {
  return lane == 0 ? r.v[0] : lane == 1 ? r.v[1] : lane == 2 ? r.v[2] : r.v[3];
}

// Uniform in [0, 1) with 24 random bits of a word: exactly representable in float and double.
AN_HOST_DEVICE float philox_word_uniform(uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// The uniform of element `index`: word index % 4 of its block.
AN_HOST_DEVICE float philox_uniform(const PhiloxKey& key, uint64_t index) {
  return philox_word_uniform(philox_word(philox_uniform_block(key, key.block(index)), index % 4));
}

// A 32-bit random word, for integer draws (crop offsets, flips).
AN_HOST_DEVICE uint32_t philox_bits(const PhiloxKey& key, uint64_t index) {
  const uint64_t block = key.block(index);
  const Philox4 r = philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                               key.stream, 1u, static_cast<uint32_t>(key.seed),
                               static_cast<uint32_t>(key.seed >> 32));
  return philox_word(r, index % 4);
}

// Hands out non-overlapping PhiloxKeys for one stream: each draw of n numbers advances by ceil(n/4).
class PhiloxGenerator {
 public:
  PhiloxGenerator(uint64_t seed = 0, uint32_t stream = 0) : seed_(seed), stream_(stream) {}
  PhiloxKey next(uint64_t count) {
    PhiloxKey key{seed_, stream_, offset_ - anchor_, base_};
    offset_ += (count + 3) / 4;
    return key;
  }
  uint64_t seed() const { return seed_; }
  uint32_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

  // From now on keys are relative to the current offset and read the rest from *base when they
  // draw: work recorded into a graph now draws at *base + (what it would have drawn at, less the
  // anchor). With *base = the offset at the start of each replay, a replay draws exactly what the
  // recorded work run eagerly at that offset would. The offset still advances as keys are handed
  // out (offset() is the generator's state, as ever); unanchor() returns to plain keys.
  void anchor(const uint64_t* base) {
    anchor_ = offset_;
    base_ = base;
  }
  void unanchor() {
    anchor_ = 0;
    base_ = nullptr;
  }

 private:
  uint64_t seed_;
  uint32_t stream_;
  uint64_t offset_ = 0;
  uint64_t anchor_ = 0;            // subtracted from the keys' offsets while anchored
  const uint64_t* base_ = nullptr;  // added back when they draw
};

}  // namespace autonet
