// Batches of one epoch over a list of image indices, assembled by background threads.
//
// The batch sequence of epoch e is a pure function of (data, indices, config, seed, e): the order
// is a Philox permutation keyed by (seed, e), and each image's augmentation is keyed by
// (seed, e, its position in that order). Image files (ImageSet::files) are read and decoded by
// the workers too, each batch from its files. It does not depend on the number of threads or on the
// device, so a run resumes exactly by opening a Loader at (epoch, first_batch).
//
// Workers write batches into pinned host buffers (Tensor::empty(..., pinned = true), reused once
// the consumer lets go of them), so the consumer only waits when augmentation cannot keep up. At
// most `prefetch` batches are ahead of the consumer. Destroying a Loader mid-epoch stops its
// threads without waiting for the epoch.
//
// For a CUDA device, next() copies the batch to the device in the consumer's thread (the compute
// stream, from pinned memory: ~0.8 MB per CIFAR batch). Workers never touch the GPU: a worker's
// copy on the compute stream would land inside a CUDA Graph being captured there
// (runtime/cuda_graph.h), and its block could be reused while queued kernels still read it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "datasets/image_dataset.h"
#include "datasets/transforms.h"

namespace autonet::data {

struct LoaderConfig {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;  // false: the last batch holds the remainder (as the reference)
  TransformConfig transform;
  uint64_t seed = 2;
  int workers = 2;           // 0: batches are assembled in next() on the calling thread
  int prefetch = 4;          // batches ready ahead of the consumer, at most
  Device device = Device::cpu();  // where batches are delivered
};

struct Batch {
  Tensor images;  // f32 [B, C, H, W], transformed
  Tensor labels;  // i64 [B]
  int64_t index = 0;  // batch number within the epoch
};

// The order in which epoch `epoch` visits `indices`: a Philox permutation, or as given.
std::vector<int64_t> epoch_order(const std::vector<int64_t>& indices, bool shuffle, uint64_t seed,
                                 uint64_t epoch);

// Number of batches of an epoch over n indices.
int64_t batches_per_epoch(int64_t n, int64_t batch_size, bool drop_last);

class Loader {
 public:
  Loader(ImageSet set, std::vector<int64_t> indices, LoaderConfig config, uint64_t epoch,
         int64_t first_batch = 0);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t num_batches() const { return num_batches_; }
  // The next batch, or nothing at the end of the epoch. Rethrows a worker's error.
  std::optional<Batch> next();
  // Batch b of this epoch assembled on the calling thread (host memory, not pinned): the
  // reference the threaded path must equal.
  Batch batch(int64_t b) const;

 private:
  void assemble(int64_t b, float* images, int64_t* labels) const;
  Batch produce(int64_t b);  // into a pooled pinned buffer
  Batch to_device(Batch batch) const;
  Tensor acquire_pinned(const Shape& shape);
  void work();
  void stop_threads();

  ImageSet set_;
  LoaderConfig config_;
  uint64_t epoch_;
  std::vector<int64_t> order_;
  int64_t num_batches_ = 0;

  std::mutex mutex_;
  std::condition_variable room_, ready_;
  int64_t next_claim_ = 0, next_deliver_ = 0;
  bool stop_ = false;
  struct Done {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Done> done_;
  std::vector<std::thread> threads_;

  std::mutex pool_mutex_;
  std::vector<Tensor> pool_;  // pinned image buffers; free when only the pool holds them
};

}  // namespace autonet::data
