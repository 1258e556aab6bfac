// An endless stream of batches: reshuffled passes over the same images, one after another (pass p
// is the loader's epoch p, so its order follows from the loader's seed), resumable at a position
// (pass, batch). The DARTS search draws its α batches from one (darts/tasks/search_trainer.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "datasets/loader.h"

namespace autonet::data {

class BatchStream {
 public:
  BatchStream(ImageSet set, std::vector<int64_t> indices, LoaderConfig config);

  // The batch at the current position; the position moves past it (into the next pass at the
  // end of one).
  Batch next();
  // The position of the next batch, and setting it (a checkpoint's).
  int64_t pass() const { return pass_; }
  int64_t batch() const { return batch_; }
  void seek(int64_t pass, int64_t batch);

 private:
  ImageSet set_;
  std::vector<int64_t> indices_;
  LoaderConfig config_;
  int64_t pass_ = 0, batch_ = 0;
  std::unique_ptr<Loader> loader_;  // the current pass from (pass_, batch_); made when first read
};

}  // namespace autonet::data
