// Image transforms of the DARTS pipeline (reference/darts.md §5.4), u8 [C, H, W] → f32 [C, H, W]:
//   random crop of H×W from the image zero-padded by `crop_padding` (pad value 0 before
//   normalisation) → horizontal flip with p = 0.5 → x/255 → (x − mean)/std per channel →
//   cutout: zero (in normalised space) rows [cy − L/2, cy + L/2) × cols [cx − L/2, cx + L/2)
//   clipped to the image, all channels, centre uniform over the H×W grid.
// The random choices of sample `position` in epoch `epoch` come from Philox (seed,
// kAugmentStream, epoch_offset(epoch) + 2·position …): the same on every machine and thread.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/image_dataset.h"

namespace autonet::data {

// torchvision's ColorJitter: each factor drawn uniformly from [1 − x, 1 + x] (hue: a shift in
// [−x, x] of a turn), the four applied in a random order. 0 leaves that property alone.
struct ColorJitter {
  float brightness = 0, contrast = 0, saturation = 0, hue = 0;
};

// The transforms of decoded photos of any size (image files; datasets/photo_transform.h), which
// all end in a size×size square: ImageNet's recipe.
struct PhotoTransform {
  int64_t size = 0;          // output side; 0: the images are not photos (in-memory data sets)
  bool random_crop = false;  // train: RandomResizedCrop(size); else Resize(size·256/224) +
                             // CenterCrop(size)
  ColorJitter jitter;
};

struct TransformConfig {
  int64_t crop_padding = 0;      // 0: no random crop
  bool flip = false;             // random horizontal flip, p = 0.5
  std::vector<float> mean, std;  // per channel, of pixels scaled to [0, 1]; required
  int64_t cutout = 0;            // cutout side L; 0: off
  PhotoTransform photo = {};     // image files only (then crop_padding is 0)
};

// DARTS's training transform (crop padding 4, flip, normalise; cutout of 16 when asked) and its
// test transform (normalise only), with the data set's constants. For image files (photos of any
// size), the official ImageNet recipe at the set's size: random resized crop, flip, colour jitter
// 0.4/0.4/0.4/0.2 (and cutout when asked) for training, resize + centre crop for testing.
TransformConfig train_transform(const ImageData& data, bool cutout = false,
                                int64_t cutout_length = 16);
TransformConfig test_transform(const ImageData& data);

// The random choices for one image (unused fields are 0/false when that transform is off).
struct AugmentDraw {
  int64_t dy = 0, dx = 0;  // crop offset in the padded image, each in [0, 2·padding]
  bool flip = false;
  int64_t cy = 0, cx = 0;  // cutout centre
};
AugmentDraw draw_augment(const TransformConfig& config, int64_t height, int64_t width,
                         uint64_t seed, uint64_t epoch, uint64_t position);

// Checks `config` against an image of `channels` channels; throws naming what is wrong.
void check_transform(const TransformConfig& config, int64_t channels, int64_t height,
                     int64_t width);

// Cutout of the draw's square on dst f32 [C, H, W] (after normalisation, as the reference).
void apply_cutout(const TransformConfig& config, int64_t cy, int64_t cx, int64_t channels,
                  int64_t height, int64_t width, float* dst);

// Applies the transform with the given draw: src u8 [C, H, W] → dst f32 [C, H, W].
void transform_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                     const TransformConfig& config, const AugmentDraw& draw, float* dst);

}  // namespace autonet::data
