// The index splits of an image data set (indices into ImageData::train / ::test).
//  - search: DARTS's split (reference/darts.md §3.1): the first ⌊train_portion·N⌋ training images
//    (data set order, no shuffle) train the weights w, the rest train the architecture α.
//  - final: a held-out validation split for final training and model selection:
//    ⌊valid_portion·N⌋ training images drawn by a Philox permutation of the seed, the rest train.
//    valid_portion = 0 gives DARTS's final training (all 50,000 images, no validation).
//  - test: the whole test set, never used for choices.
// All lists are sorted ascending; the loader shuffles them per epoch.
#pragma once
#include <cstdint>
#include <vector>

namespace autonet::data {

struct SplitConfig {
  double train_portion = 0.5;
  double valid_portion = 0.1;
  uint64_t seed = 2;
};

struct Splits {
  std::vector<int64_t> search_weights, search_arch;
  std::vector<int64_t> final_train, final_valid;
  std::vector<int64_t> test;
};

Splits make_splits(int64_t train_size, int64_t test_size, const SplitConfig& config);

}  // namespace autonet::data
