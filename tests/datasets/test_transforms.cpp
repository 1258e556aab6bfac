// Transforms against hand-computed results, the Philox draws, and the computed constants.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data_files.h"
#include "datasets/image_dataset.h"
#include "datasets/random_order.h"
#include "datasets/transforms.h"

namespace autonet::data {
namespace {

// 1 channel, 3×3, pixels 1..9 row-major; mean 0, std 1 so out·255 gives the source byte back.
const std::vector<uint8_t> kImage = {1, 2, 3, 4, 5, 6, 7, 8, 9};

std::vector<int> apply_bytes(const TransformConfig& config, const AugmentDraw& draw) {
  std::vector<float> out(9);
  transform_image(kImage.data(), 1, 3, 3, config, draw, out.data());
  std::vector<int> bytes;
  for (float v : out) bytes.push_back(static_cast<int>(std::lround(v * 255)));
  return bytes;
}

TEST(Transform, NormalisesEachChannelWithItsConstants) {
  // Channel 0: mean 0.2, std 0.5; channel 1: mean 0.5, std 0.25.
  const std::vector<uint8_t> image = {0, 51, 255, 102, 0, 51, 255, 102};
  const TransformConfig config{0, false, {0.2f, 0.5f}, {0.5f, 0.25f}, 0};
  std::vector<float> out(8);
  transform_image(image.data(), 2, 2, 2, config, AugmentDraw{}, out.data());
  const std::vector<float> expected = {-0.4f, 0.0f, 1.6f, 0.4f, -2.0f, -1.2f, 2.0f, -0.4f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[i], expected[i], 1e-6) << i;
}

TEST(Transform, RandomCropShiftsTheZeroPaddedImage) {
  const TransformConfig config{1, false, {0.0f}, {1.0f}, 0};
  // Offset (1, 1) in the padded image is the identity.
  EXPECT_EQ(apply_bytes(config, {1, 1, false, 0, 0}), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // (0, 2): out(y, x) = image(y − 1, x + 1): a padded top row, columns shifted left.
  EXPECT_EQ(apply_bytes(config, {0, 2, false, 0, 0}), (std::vector<int>{0, 0, 0, 2, 3, 0, 5, 6, 0}));
  // (2, 0): out(y, x) = image(y + 1, x − 1).
  EXPECT_EQ(apply_bytes(config, {2, 0, false, 0, 0}), (std::vector<int>{0, 4, 5, 0, 7, 8, 0, 0, 0}));
}

TEST(Transform, FlipMirrorsTheCrop) {
  const TransformConfig config{1, true, {0.0f}, {1.0f}, 0};
  EXPECT_EQ(apply_bytes(config, {1, 1, true, 0, 0}), (std::vector<int>{3, 2, 1, 6, 5, 4, 9, 8, 7}));
  // Crop (2, 0) then flip: out(y, x) = image(y + 1, (2 − x) − 1).
  EXPECT_EQ(apply_bytes(config, {2, 0, true, 0, 0}), (std::vector<int>{5, 4, 0, 8, 7, 0, 0, 0, 0}));
}

TEST(Transform, PaddingIsZeroBeforeNormalisation) {
  const TransformConfig config{1, false, {0.5f}, {0.25f}, 0};
  std::vector<float> out(9);
  transform_image(kImage.data(), 1, 3, 3, config, {0, 0, false, 0, 0}, out.data());
  EXPECT_FLOAT_EQ(out[0], -2.0f);  // (0 − 0.5) / 0.25
  EXPECT_NEAR(out[4], (1.0f / 255 - 0.5f) / 0.25f, 1e-6);  // image(0, 0)
}

TEST(Transform, CutoutZeroesTheClippedSquareOnAllChannelsAfterNormalising) {
  // Two channels of the 3×3 image, mean 0.5 so nothing else is 0; L = 2 at centre (0, 2):
  // rows [−1, 1) ∩ [0, 3) = {0}, cols [1, 3) = {1, 2}.
  std::vector<uint8_t> image = kImage;
  image.insert(image.end(), kImage.begin(), kImage.end());
  const TransformConfig config{0, false, {0.5f, 0.5f}, {1.0f, 1.0f}, 2};
  std::vector<float> out(18);
  transform_image(image.data(), 2, 3, 3, config, {0, 0, false, 0, 2}, out.data());
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < 9; ++k) {
      const bool hole = k == 1 || k == 2;
      if (hole) EXPECT_EQ(out[c * 9 + k], 0.0f) << c << "," << k;
      else EXPECT_NEAR(out[c * 9 + k], kImage[k] / 255.0f - 0.5f, 1e-6) << c << "," << k;
    }
  // Odd L = 3 cuts 2·⌊3/2⌋ = 2 rows and columns, as the reference; centre (2, 1): rows {1, 2},
  // cols {0, 1}.
  const TransformConfig odd{0, false, {0.0f}, {1.0f}, 3};
  EXPECT_EQ(apply_bytes(odd, {0, 0, false, 2, 1}), (std::vector<int>{1, 2, 3, 0, 0, 6, 0, 0, 9}));
  // L = 16 on a 3×3 image: everything.
  const TransformConfig big{0, false, {0.0f}, {1.0f}, 16};
  EXPECT_EQ(apply_bytes(big, {0, 0, false, 1, 1}), std::vector<int>(9, 0));
}

TEST(Transform, DrawsAreDeterministicInRangeAndCoverEveryChoice) {
  const TransformConfig config{4, true, {0.5f}, {0.5f}, 16};
  std::set<int64_t> dys, dxs, cys;
  int flips = 0;
  for (uint64_t p = 0; p < 2000; ++p) {
    const AugmentDraw d = draw_augment(config, 32, 28, 7, 3, p);
    const AugmentDraw again = draw_augment(config, 32, 28, 7, 3, p);
    EXPECT_EQ(d.dy, again.dy);
    EXPECT_EQ(d.cx, again.cx);
    ASSERT_TRUE(d.dy >= 0 && d.dy <= 8 && d.dx >= 0 && d.dx <= 8);
    ASSERT_TRUE(d.cy >= 0 && d.cy < 32 && d.cx >= 0 && d.cx < 28);
    dys.insert(d.dy);
    dxs.insert(d.dx);
    cys.insert(d.cy);
    flips += d.flip;
  }
  EXPECT_EQ(dys.size(), 9u);
  EXPECT_EQ(dxs.size(), 9u);
  EXPECT_EQ(cys.size(), 32u);
  EXPECT_NEAR(flips, 1000, 100);
  // Other epochs and seeds draw differently.
  int same_epoch = 0, same_seed = 0;
  for (uint64_t p = 0; p < 100; ++p) {
    same_epoch += draw_augment(config, 32, 28, 7, 4, p).cy == draw_augment(config, 32, 28, 7, 3, p).cy;
    same_seed += draw_augment(config, 32, 28, 8, 3, p).cy == draw_augment(config, 32, 28, 7, 3, p).cy;
  }
  EXPECT_LT(same_epoch, 15);
  EXPECT_LT(same_seed, 15);
  // Transforms that are off draw nothing.
  const AugmentDraw none = draw_augment(TransformConfig{0, false, {0.5f}, {0.5f}, 0}, 32, 32, 7, 3, 5);
  EXPECT_EQ(none.dy + none.dx + none.cy + none.cx + none.flip, 0);
}

TEST(Transform, PhiloxBelowMapsBitsOntoTheRange) {
  EXPECT_EQ(philox_below(0u, 9), 0u);
  EXPECT_EQ(philox_below(0xFFFFFFFFu, 9), 8u);
  EXPECT_EQ(philox_below(0x80000000u, 9), 4u);  // ⌊9/2⌋
}

TEST(Transform, BadConfigurationsAreErrors) {
  testing::expect_error([] { check_transform({0, false, {0.5f}, {0.5f}, 0}, 3, 32, 32); },
                        {"1 means and 1 stds", "3 channels"});
  testing::expect_error([] { check_transform({0, false, {0.5f}, {0.0f}, 0}, 1, 32, 32); },
                        {"std of channel 0"});
  testing::expect_error([] { check_transform({-1, false, {0.5f}, {0.5f}, 0}, 1, 32, 32); },
                        {"crop padding -1"});
}

TEST(ChannelStats, MeanAndPopulationStdPerChannel) {
  // 2 images × 2 channels × 1×2 pixels. Channel 0 bytes {0, 255, 255, 0}: mean 0.5, std 0.5.
  // Channel 1 bytes {51, 51, 51, 51}: mean 0.2, std 0.
  Tensor images = Tensor::from_vector<uint8_t>({0, 255, 51, 51, 255, 0, 51, 51}, {2, 2, 1, 2});
  std::vector<float> mean, std;
  channel_stats(images, &mean, &std);
  EXPECT_FLOAT_EQ(mean[0], 0.5f);
  EXPECT_FLOAT_EQ(std[0], 0.5f);
  EXPECT_FLOAT_EQ(mean[1], 0.2f);
  EXPECT_FLOAT_EQ(std[1], 0.0f);
}

}  // namespace
}  // namespace autonet::data
