#include "datasets/loader.h"

#include <numeric>

#include "datasets/image_codec.h"
#include "datasets/photo_transform.h"
#include "datasets/random_order.h"

namespace autonet::data {

std::vector<int64_t> epoch_order(const std::vector<int64_t>& indices, bool shuffle, uint64_t seed,
                                 uint64_t epoch) {
  std::vector<int64_t> order = indices;
  if (shuffle) philox_shuffle(order, PhiloxKey{seed, kShuffleStream, epoch_offset(epoch)});
  return order;
}

int64_t batches_per_epoch(int64_t n, int64_t batch_size, bool drop_last) {
  return drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
}

Loader::Loader(ImageSet set, std::vector<int64_t> indices, LoaderConfig config, uint64_t epoch,
               int64_t first_batch)
    : set_(std::move(set)), config_(std::move(config)), epoch_(epoch) {
  AN_CHECK(set_.files || (set_.images.defined() && set_.images.dim() == 4 &&
                          set_.images.dtype() == DType::u8 && set_.images.is_contiguous() &&
                          set_.images.device().is_cpu()))
      << "Loader: images must be contiguous u8 [N, C, H, W] on the CPU, got "
      << (set_.images.defined() ? set_.images.describe() : std::string("an undefined tensor"));
  AN_CHECK(!set_.files || static_cast<int64_t>(set_.files->paths.size()) >= set_.size())
      << "Loader: " << set_.files->paths.size() << " image files for " << set_.size() << " labels";
  AN_CHECK((set_.files != nullptr) == (config_.transform.photo.size > 0))
      << "Loader: image files need a photo transform (to their size), images in memory none";
  AN_CHECK(set_.labels.defined() && set_.labels.dim() == 1 && set_.labels.dtype() == DType::i64 &&
           set_.labels.size(0) == set_.size() && set_.labels.is_contiguous())
      << "Loader: labels must be i64 [" << set_.size() << "]";
  AN_CHECK(config_.batch_size > 0) << "Loader: batch size must be positive, got "
                                   << config_.batch_size;
  AN_CHECK(config_.workers >= 0 && config_.prefetch >= 1)
      << "Loader: workers " << config_.workers << " and prefetch " << config_.prefetch
      << " (need workers >= 0, prefetch >= 1)";
  AN_CHECK(!indices.empty()) << "Loader: empty index list";
  for (int64_t i : indices)
    AN_CHECK(i >= 0 && i < set_.size()) << "Loader: index " << i << " out of range [0, "
                                        << set_.size() << ")";
  check_transform(config_.transform, set_.channels(), set_.height(), set_.width());
  order_ = epoch_order(indices, config_.shuffle, config_.seed, epoch_);
  num_batches_ = batches_per_epoch(static_cast<int64_t>(order_.size()), config_.batch_size,
                                   config_.drop_last);
  AN_CHECK(first_batch >= 0 && first_batch <= num_batches_)
      << "Loader: first batch " << first_batch << " of an epoch of " << num_batches_;
  next_claim_ = next_deliver_ = first_batch;
  try {
    for (int w = 0; w < config_.workers; ++w) threads_.emplace_back([this] { work(); });
  } catch (...) {
    stop_threads();  // the destructor will not run: no joinable thread may be left behind
    throw;
  }
}

Loader::~Loader() { stop_threads(); }

void Loader::stop_threads() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  room_.notify_all();
  ready_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Loader::assemble(int64_t b, float* images, int64_t* labels) const {
  const int64_t c = set_.channels(), h = set_.height(), w = set_.width(), pixels = c * h * w;
  const int64_t begin = b * config_.batch_size;
  const int64_t end = std::min<int64_t>(begin + config_.batch_size, order_.size());
  const uint8_t* src = set_.files ? nullptr : set_.images.data<uint8_t>();
  const int64_t* src_labels = set_.labels.data<int64_t>();
  for (int64_t p = begin; p < end; ++p) {
    const int64_t i = order_[p];
    labels[p - begin] = src_labels[i];
    if (set_.files) {  // decoded here, in the worker thread
      const RgbImage photo = read_image(set_.files->paths[i]);
      const PhotoDraw draw = draw_photo(config_.transform, photo.height, photo.width,
                                        config_.seed, epoch_, p);
      transform_photo(photo, config_.transform, draw, images + (p - begin) * pixels);
      continue;
    }
    const AugmentDraw draw = draw_augment(config_.transform, h, w, config_.seed, epoch_, p);
    transform_image(src + i * pixels, c, h, w, config_.transform, draw,
                    images + (p - begin) * pixels);
  }
}

Batch Loader::batch(int64_t b) const {
  AN_CHECK(b >= 0 && b < num_batches_) << "Loader: batch " << b << " of " << num_batches_;
  const int64_t n = std::min<int64_t>(config_.batch_size, order_.size() - b * config_.batch_size);
  Batch out{Tensor::empty({n, set_.channels(), set_.height(), set_.width()}),
            Tensor::empty({n}, DType::i64), b};
  assemble(b, out.images.data<float>(), out.labels.data<int64_t>());
  return out;
}

Tensor Loader::acquire_pinned(const Shape& shape) {
  std::lock_guard lock(pool_mutex_);
  for (const Tensor& t : pool_)
    if (t.shape() == shape && t.storage().use_count() == 1) return t;
  Tensor t = Tensor::empty(shape, DType::f32, Device::cpu(), /*pinned=*/true);
  // Keep enough buffers for the batches in flight; beyond that, batches the consumer keeps
  // are simply not recycled.
  if (pool_.size() < static_cast<size_t>(config_.prefetch + config_.workers + 2)) pool_.push_back(t);
  return t;
}

Batch Loader::produce(int64_t b) {
  const int64_t n = std::min<int64_t>(config_.batch_size, order_.size() - b * config_.batch_size);
  const Shape shape{n, set_.channels(), set_.height(), set_.width()};
  Batch out{acquire_pinned(shape), Tensor::empty({n}, DType::i64), b};
  assemble(b, out.images.data<float>(), out.labels.data<int64_t>());
  return out;
}

void Loader::work() {
  while (true) {
    int64_t b;
    {
      std::unique_lock lock(mutex_);
      room_.wait(lock, [&] {
        return stop_ || next_claim_ >= num_batches_ || next_claim_ < next_deliver_ + config_.prefetch;
      });
      if (stop_ || next_claim_ >= num_batches_) return;
      b = next_claim_++;
    }
    Done done;
    try {
      done.batch = produce(b);
    } catch (...) {
      done.error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      done_.emplace(b, std::move(done));
    }
    ready_.notify_all();
  }
}

Batch Loader::to_device(Batch batch) const {
  if (config_.device.is_cuda()) {
    batch.images = batch.images.to(config_.device);  // the pinned buffer returns to the pool
    batch.labels = batch.labels.to(config_.device);
  }
  return batch;
}

std::optional<Batch> Loader::next() {
  if (next_deliver_ >= num_batches_) return std::nullopt;
  if (threads_.empty()) {
    Batch out = produce(next_deliver_);
    ++next_deliver_;
    return to_device(std::move(out));
  }
  Done done;
  {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return done_.count(next_deliver_) != 0; });
    auto it = done_.find(next_deliver_);
    done = std::move(it->second);
    done_.erase(it);
    ++next_deliver_;
  }
  room_.notify_all();
  if (done.error) std::rethrow_exception(done.error);
  return to_device(std::move(done.batch));
}

}  // namespace autonet::data
