// The images a training run reads (train_images.h).
#include "darts/tasks/train_images.h"

#include <cmath>
#include <numeric>

#include "datasets/splits.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace {

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

RunImages run_images(const TrainRunConfig& c, const data::ImageData& data) {
  RunImages r;
  r.train = first_images(data.train, c.subset, "--subset");
  const int64_t n = r.train.size();
  if (c.valid_portion == 0) {
    r.eval = first_images(data.test, c.test_subset, "--test-subset");
    AN_CHECK(r.eval.size() > 0) << data.name << " has no test images to evaluate on (an image "
                                << "folder needs DIR/train and DIR/val); pass --valid-portion P "
                                << "to evaluate on a held-out part of the training images";
    r.train_indices = all_indices(n);
    r.eval_indices = all_indices(r.eval.size());
    r.eval_set = "test";
    return r;
  }
  // The test set stays untouched: the held-out images come from the training images.
  AN_CHECK(std::floor(c.valid_portion * static_cast<double>(n)) >= 1)
      << "--valid-portion " << c.valid_portion << " of " << n
      << " training images holds out none (⌊portion · images⌋ = 0): raise it or the --subset";
  data::SplitConfig split;
  split.valid_portion = c.valid_portion;
  split.seed = static_cast<uint64_t>(c.seed);
  data::Splits s = data::make_splits(n, 0, split);
  r.eval = r.train;
  r.train_indices = std::move(s.final_train);
  r.eval_indices = std::move(s.final_valid);
  r.eval_set = "valid";
  return r;
}

}  // namespace autonet::darts
