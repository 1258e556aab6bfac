// Splits, per-epoch order, and the threaded loader: every batch equals the single-threaded
// reference, the sequence is a pure function of (seed, epoch), resume and early stop work.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data_files.h"
#include "datasets/loader.h"
#include "datasets/splits.h"

namespace autonet::data {
namespace {

using testing::expect_error;

TEST(Splits, DartsSearchSplitIsTheFirstPortionInDataSetOrder) {
  const Splits s = make_splits(50000, 10000, SplitConfig{0.5, 0.1, 2});
  ASSERT_EQ(s.search_weights.size(), 25000u);
  ASSERT_EQ(s.search_arch.size(), 25000u);
  EXPECT_EQ(s.search_weights.front(), 0);
  EXPECT_EQ(s.search_weights.back(), 24999);
  EXPECT_EQ(s.search_arch.front(), 25000);
  EXPECT_EQ(s.search_arch.back(), 49999);
  EXPECT_EQ(s.final_train.size(), 45000u);
  EXPECT_EQ(s.final_valid.size(), 5000u);
  EXPECT_EQ(s.test.size(), 10000u);
  EXPECT_EQ(batches_per_epoch(25000, 64, false), 391);  // reference/darts.md §3.1
  // floor(0.3 · 7) = 2, as the reference's int(np.floor(...)).
  EXPECT_EQ(make_splits(7, 0, SplitConfig{0.3, 0.0, 1}).search_weights.size(), 2u);
}

TEST(Splits, HeldOutValidationIsDisjointCompleteAndSeeded) {
  const Splits a = make_splits(1000, 0, SplitConfig{0.5, 0.2, 11});
  EXPECT_EQ(a.final_valid.size(), 200u);
  std::vector<int64_t> all = a.final_train;
  all.insert(all.end(), a.final_valid.begin(), a.final_valid.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
  EXPECT_TRUE(std::is_sorted(a.final_valid.begin(), a.final_valid.end()));
  EXPECT_EQ(make_splits(1000, 0, SplitConfig{0.5, 0.2, 11}).final_valid, a.final_valid);
  EXPECT_NE(make_splits(1000, 0, SplitConfig{0.5, 0.2, 12}).final_valid, a.final_valid);
  EXPECT_TRUE(make_splits(1000, 0, SplitConfig{0.5, 0.0, 11}).final_valid.empty());
  expect_error([] { make_splits(100, 0, SplitConfig{1.0, 0.1, 1}); }, {"train_portion"});
  expect_error([] { make_splits(100, 0, SplitConfig{0.001, 0.1, 1}); }, {"empty"});
  expect_error([] { make_splits(1, 0, SplitConfig{}); }, {"cannot be split"});
}

TEST(EpochOrder, IsASeededPermutationThatChangesEveryEpoch) {
  std::vector<int64_t> indices(500);
  std::iota(indices.begin(), indices.end(), 100);
  const auto e0 = epoch_order(indices, true, 5, 0), e1 = epoch_order(indices, true, 5, 1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, indices);
  EXPECT_NE(e0, indices);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(epoch_order(indices, true, 5, 1), e1);
  EXPECT_NE(epoch_order(indices, true, 6, 1), e1);
  EXPECT_EQ(epoch_order(indices, false, 5, 1), indices);
}

// 37 images 3×8×8 with byte pattern of the index; the label is the index itself, so a batch's
// labels say which images it holds.
ImageSet synthetic_set(int64_t n = 37) {
  ImageSet set{Tensor::empty({n, 3, 8, 8}, DType::u8), Tensor::empty({n}, DType::i64)};
  uint8_t* px = set.images.data<uint8_t>();
  for (int64_t i = 0; i < set.images.numel(); ++i) px[i] = static_cast<uint8_t>((i * 13) % 251);
  for (int64_t i = 0; i < n; ++i) set.labels.data<int64_t>()[i] = i;
  return set;
}

LoaderConfig config(int workers, int prefetch = 2) {
  LoaderConfig c;
  c.batch_size = 8;
  c.transform = TransformConfig{2, true, {0.4f, 0.5f, 0.6f}, {0.2f, 0.25f, 0.3f}, 4};
  c.seed = 9;
  c.workers = workers;
  c.prefetch = prefetch;
  return c;
}

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::vector<Batch> drain(Loader& loader) {
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

void expect_same(const Batch& a, const Batch& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.labels.to_vector<int64_t>(), b.labels.to_vector<int64_t>());
  EXPECT_EQ(a.images.to_vector<float>(), b.images.to_vector<float>()) << "batch " << a.index;
}

TEST(Loader, BatchesHoldTheTransformedImagesOfTheEpochOrder) {
  const ImageSet set = synthetic_set();
  const LoaderConfig c = config(0);
  Loader loader(set, all_indices(37), c, /*epoch=*/3);
  ASSERT_EQ(loader.num_batches(), 5);
  const std::vector<int64_t> order = epoch_order(all_indices(37), true, 9, 3);
  for (int64_t b = 0; b < 5; ++b) {
    const Batch batch = loader.batch(b);
    const int64_t n = b < 4 ? 8 : 5;  // the last batch holds the remainder
    ASSERT_EQ(batch.images.shape(), (Shape{n, 3, 8, 8}));
    for (int64_t j = 0; j < n; ++j) {
      const int64_t position = b * 8 + j, image = order[position];
      EXPECT_EQ(batch.labels.data<int64_t>()[j], image);
      std::vector<float> expected(192);
      transform_image(set.images.data<uint8_t>() + image * 192, 3, 8, 8, c.transform,
                      draw_augment(c.transform, 8, 8, 9, 3, position), expected.data());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                             batch.images.data<float>() + j * 192))
          << "batch " << b << " image " << j;
    }
  }
}

TEST(Loader, ThreadedBatchesEqualTheReferenceWhateverTheThreadCount) {
  const ImageSet set = synthetic_set();
  Loader reference(set, all_indices(37), config(0), 1);
  for (int workers : {1, 3}) {
    Loader loader(set, all_indices(37), config(workers, 2), 1);
    const std::vector<Batch> got = drain(loader);
    ASSERT_EQ(got.size(), 5u);
    for (int64_t b = 0; b < 5; ++b) expect_same(got[b], reference.batch(b));
    EXPECT_FALSE(loader.next().has_value());  // stays at the end
  }
}

TEST(Loader, EachEpochVisitsEveryIndexOnceInItsOwnOrder) {
  const ImageSet set = synthetic_set();
  const std::vector<int64_t> subset = {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 36};
  std::vector<int64_t> previous;
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    Loader loader(set, subset, config(2), epoch);
    std::vector<int64_t> seen;
    for (const Batch& b : drain(loader))
      for (int64_t l : b.labels.to_vector<int64_t>()) seen.push_back(l);
    EXPECT_NE(seen, previous);
    previous = seen;
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, subset);
  }
}

TEST(Loader, ResumesMidEpochWithTheSameBatches) {
  const ImageSet set = synthetic_set();
  Loader full(set, all_indices(37), config(2), 4);
  const std::vector<Batch> all = drain(full);
  Loader resumed(set, all_indices(37), config(2), 4, /*first_batch=*/3);
  const std::vector<Batch> rest = drain(resumed);
  ASSERT_EQ(rest.size(), 2u);
  expect_same(rest[0], all[3]);
  expect_same(rest[1], all[4]);
}

TEST(Loader, DropLastAndNoShuffle) {
  const ImageSet set = synthetic_set();
  LoaderConfig c = config(1);
  c.drop_last = true;
  c.shuffle = false;
  Loader loader(set, all_indices(37), c, 0);
  EXPECT_EQ(loader.num_batches(), 4);
  const std::vector<Batch> got = drain(loader);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].labels.to_vector<int64_t>(),
            (std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(Loader, StopsCleanlyWhenDestroyedMidEpoch) {
  const ImageSet set = synthetic_set(400);
  for (int taken : {0, 1, 7}) {
    Loader loader(set, all_indices(400), config(4, 3), 0);
    for (int i = 0; i < taken; ++i) ASSERT_TRUE(loader.next().has_value());
  }  // the destructor joins the workers while they wait for room
}

TEST(Loader, BadArgumentsAreErrors) {
  const ImageSet set = synthetic_set();
  expect_error([&] { Loader(set, {0, 37}, config(1), 0); }, {"index 37 out of range [0, 37)"});
  expect_error([&] { Loader(set, {}, config(1), 0); }, {"empty index list"});
  LoaderConfig c = config(1);
  c.batch_size = 0;
  expect_error([&] { Loader(set, {0}, c, 0); }, {"batch size"});
  c = config(1);
  c.transform.mean = {0.5f};
  expect_error([&] { Loader(set, {0}, c, 0); }, {"3 channels"});
  expect_error([&] { Loader(set, {0, 1}, config(1), 0, 5); }, {"first batch 5"});
}

TEST(Loader, DeliversToTheGpuWithTheSameValues) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  const ImageSet set = synthetic_set();
  LoaderConfig c = config(2);
  c.device = Device::cuda(0);
  Loader gpu(set, all_indices(37), c, 2);
  Loader cpu(set, all_indices(37), config(0), 2);
  const std::vector<Batch> got = drain(gpu);
  ASSERT_EQ(got.size(), 5u);
  for (int64_t b = 0; b < 5; ++b) {
    EXPECT_TRUE(got[b].images.device().is_cuda());
    EXPECT_TRUE(got[b].labels.device().is_cuda());
    expect_same(got[b], cpu.batch(b));
  }
}

}  // namespace
}  // namespace autonet::data
