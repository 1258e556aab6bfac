// Philox-driven integer draws and permutations for the data pipeline. Every random decision of
// the pipeline is a pure function of (seed, stream, counter), so a run's batches are reproducible
// from its seed, on any machine, with any number of loader threads, and resumable at any epoch.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/philox.h"

namespace autonet::data {

// Philox streams of the data pipeline (distinct from the model's dropout/drop-path streams).
constexpr uint32_t kShuffleStream = 0xDA7A0001u;
constexpr uint32_t kAugmentStream = 0xDA7A0002u;
constexpr uint32_t kHoldoutStream = 0xDA7A0003u;
constexpr uint32_t kPhotoStream = 0xDA7A0004u;  // crops, flips and jitter of image files
constexpr uint32_t kFolderOrderStream = 0xDA7A0005u;  // the fixed order of a folder's images

// A number in [0, bound) from 32 random bits: the high word of bits·bound (Lemire's
// multiply-shift, without rejection; the bias is below bound/2^32). bound must be in [1, 2^32].
AN_HOST_DEVICE uint32_t philox_below(uint32_t bits, uint64_t bound) {
  return static_cast<uint32_t>((static_cast<uint64_t>(bits) * bound) >> 32);
}

// The counter block where epoch `epoch` of a stream starts: epochs never share random numbers.
AN_HOST_DEVICE uint64_t epoch_offset(uint64_t epoch) { return epoch << 40; }

// A Fisher–Yates shuffle of `items` driven by philox_bits(key, i) for i = n−1 … 1.
void philox_shuffle(std::vector<int64_t>& items, const PhiloxKey& key);

}  // namespace autonet::data
