// Reshuffled passes one after another (batch_stream.h).
#include "datasets/batch_stream.h"

#include <optional>
#include <utility>

namespace autonet::data {

BatchStream::BatchStream(ImageSet set, std::vector<int64_t> indices, LoaderConfig config)
    : set_(std::move(set)), indices_(std::move(indices)), config_(std::move(config)) {}

Batch BatchStream::next() {
  for (;;) {
    if (!loader_)
      loader_ = std::make_unique<Loader>(set_, indices_, config_, static_cast<uint64_t>(pass_),
                                         batch_);
    if (std::optional<Batch> b = loader_->next()) {
      ++batch_;
      return std::move(*b);
    }
    loader_.reset();
    ++pass_;
    batch_ = 0;
  }
}

void BatchStream::seek(int64_t pass, int64_t batch) {
  pass_ = pass;
  batch_ = batch;
  loader_.reset();
}

}  // namespace autonet::data
