#include "datasets/splits.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "datasets/random_order.h"
#include "runtime/error.h"

namespace autonet::data {

Splits make_splits(int64_t train_size, int64_t test_size, const SplitConfig& config) {
  AN_CHECK(train_size >= 2) << "make_splits: a training set of " << train_size
                            << " images cannot be split";
  AN_CHECK(test_size >= 0) << "make_splits: negative test size " << test_size;
  AN_CHECK(config.train_portion > 0 && config.train_portion < 1)
      << "make_splits: train_portion must be in (0, 1), got " << config.train_portion;
  AN_CHECK(config.valid_portion >= 0 && config.valid_portion < 1)
      << "make_splits: valid_portion must be in [0, 1), got " << config.valid_portion;
  Splits s;
  // As the reference: split = int(np.floor(train_portion * num_train)).
  const auto cut = static_cast<int64_t>(std::floor(config.train_portion * train_size));
  AN_CHECK(cut > 0 && cut < train_size)
      << "make_splits: train_portion " << config.train_portion << " of " << train_size
      << " images leaves one side of the search split empty";
  s.search_weights.resize(cut);
  std::iota(s.search_weights.begin(), s.search_weights.end(), 0);
  s.search_arch.resize(train_size - cut);
  std::iota(s.search_arch.begin(), s.search_arch.end(), cut);

  const auto held = static_cast<int64_t>(std::floor(config.valid_portion * train_size));
  AN_CHECK(held < train_size) << "make_splits: valid_portion leaves no training images";
  std::vector<int64_t> order(train_size);
  std::iota(order.begin(), order.end(), 0);
  philox_shuffle(order, PhiloxKey{config.seed, kHoldoutStream, 0});
  s.final_valid.assign(order.begin(), order.begin() + held);
  s.final_train.assign(order.begin() + held, order.end());
  std::sort(s.final_valid.begin(), s.final_valid.end());
  std::sort(s.final_train.begin(), s.final_train.end());

  s.test.resize(test_size);
  std::iota(s.test.begin(), s.test.end(), 0);
  return s;
}

}  // namespace autonet::data
