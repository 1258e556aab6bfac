// The transforms of decoded photos (image files of any size) into size×size network inputs, as
// the official DARTS train_imagenet.py composes them from torchvision:
//   train: RandomResizedCrop(size) (area 8–100 %, aspect 3/4–4/3, 10 tries then the centre),
//          RandomHorizontalFlip, ColorJitter(0.4, 0.4, 0.4, 0.2), ToTensor, Normalize
//   test:  Resize(size·256/224: the shorter side), CenterCrop(size), ToTensor, Normalize
// plus cutout when the config asks for it. Resizing is PIL's antialiased bilinear
// (datasets/resize.h); colours stay in float between the steps where PIL rounds to bytes.
// Every random decision comes from Philox (seed, kPhotoStream, epoch, position in the epoch), so
// batches do not depend on threads, and the draws depend on the photo only through its size.
#pragma once
#include <array>
#include <cstdint>

#include "datasets/image_codec.h"
#include "datasets/resize.h"
#include "datasets/transforms.h"

namespace autonet::data {

struct PhotoDraw {
  Window crop;          // the window that is resized to the output (train: random; test: none)
  bool flip = false;
  std::array<int, 4> jitter_order = {0, 1, 2, 3};  // 0 brightness, 1 contrast, 2 saturation, 3 hue
  std::array<float, 4> jitter = {1, 1, 1, 0};      // factors, and the hue shift in turns
  int64_t cy = 0, cx = 0;                          // cutout centre
};

PhotoDraw draw_photo(const TransformConfig& config, int64_t height, int64_t width, uint64_t seed,
                     uint64_t epoch, uint64_t position);

// The test transform's geometry: the resized size (shorter side size·256/224, rounded) and the
// centred window of that resized image that is kept.
struct CentreCrop {
  int64_t resized_height = 0, resized_width = 0;
  Window keep;
};
CentreCrop centre_crop(int64_t height, int64_t width, int64_t size);

// photo → dst f32 [3, size, size] (config.photo.size), normalised.
void transform_photo(const RgbImage& photo, const TransformConfig& config, const PhotoDraw& draw,
                     float* dst);

// The colour jitter on f32 planes [3, n] with values in [0, 255] (exposed for tests).
void jitter_colours(const PhotoDraw& draw, int64_t n, float* planes);

}  // namespace autonet::data
