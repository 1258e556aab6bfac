#include "datasets/transforms.h"

#include <algorithm>

#include "datasets/random_order.h"

namespace autonet::data {

TransformConfig train_transform(const ImageData& data, bool cutout, int64_t cutout_length) {
  const int64_t cut = cutout ? cutout_length : 0;
  if (data.train.files) {
    const ColorJitter jitter{0.4f, 0.4f, 0.4f, 0.2f};  // train_imagenet.py
    return {0, true, data.mean, data.std, cut, {data.train.files->size, true, jitter}};
  }
  return {4, true, data.mean, data.std, cut};
}

TransformConfig test_transform(const ImageData& data) {
  if (data.train.files) return {0, false, data.mean, data.std, 0, {data.train.files->size, false, {}}};
  return {0, false, data.mean, data.std, 0};
}

AugmentDraw draw_augment(const TransformConfig& config, int64_t height, int64_t width,
                         uint64_t seed, uint64_t epoch, uint64_t position) {
  // Two counter blocks (8 words) per image; words 0..4 are used.
  const PhiloxKey key{seed, kAugmentStream, epoch_offset(epoch)};
  const uint64_t base = position * 8;
  AugmentDraw d;
  if (config.crop_padding > 0) {
    const uint64_t choices = 2 * static_cast<uint64_t>(config.crop_padding) + 1;
    d.dy = philox_below(philox_bits(key, base + 0), choices);
    d.dx = philox_below(philox_bits(key, base + 1), choices);
  }
  if (config.flip) d.flip = (philox_bits(key, base + 2) >> 31) != 0;
  if (config.cutout > 0) {
    d.cy = philox_below(philox_bits(key, base + 3), static_cast<uint64_t>(height));
    d.cx = philox_below(philox_bits(key, base + 4), static_cast<uint64_t>(width));
  }
  return d;
}

void check_transform(const TransformConfig& config, int64_t channels, int64_t height,
                     int64_t width) {
  AN_CHECK(static_cast<int64_t>(config.mean.size()) == channels &&
           static_cast<int64_t>(config.std.size()) == channels)
      << "transform: " << config.mean.size() << " means and " << config.std.size()
      << " stds for images of " << channels << " channels";
  for (int64_t c = 0; c < channels; ++c)
    AN_CHECK(config.std[c] > 0) << "transform: std of channel " << c << " is " << config.std[c]
                                << ", must be positive";
  AN_CHECK(config.crop_padding >= 0 && config.crop_padding <= std::min(height, width))
      << "transform: crop padding " << config.crop_padding << " for " << height << "x" << width
      << " images";
  AN_CHECK(config.cutout >= 0) << "transform: negative cutout length " << config.cutout;
  const PhotoTransform& photo = config.photo;
  if (photo.size == 0) return;
  AN_CHECK(channels == 3 && height == photo.size && width == photo.size && config.crop_padding == 0)
      << "transform: photos give 3×" << photo.size << "×" << photo.size << " images, not "
      << channels << "×" << height << "×" << width
      << (config.crop_padding ? " (and take no crop padding)" : "");
  const ColorJitter& j = photo.jitter;
  AN_CHECK(j.brightness >= 0 && j.brightness <= 1 && j.contrast >= 0 && j.contrast <= 1 &&
           j.saturation >= 0 && j.saturation <= 1 && j.hue >= 0 && j.hue <= 0.5f)
      << "transform: colour jitter " << j.brightness << "/" << j.contrast << "/" << j.saturation
      << "/" << j.hue << " (brightness, contrast, saturation in [0, 1], hue in [0, 0.5])";
}

void transform_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                     const TransformConfig& config, const AugmentDraw& draw, float* dst) {
  const int64_t pad = config.crop_padding;
  for (int64_t c = 0; c < channels; ++c) {
    // ToTensor then Normalize, in float as torchvision computes it, tabulated per byte value.
    float table[256];
    for (int v = 0; v < 256; ++v)
      table[v] = (static_cast<float>(v) / 255.0f - config.mean[c]) / config.std[c];
    const uint8_t* plane = src + c * height * width;
    float* out = dst + c * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const int64_t iy = y + draw.dy - pad;
      for (int64_t x = 0; x < width; ++x) {
        // Crop, then flip the crop: out(y, x) = padded(y + dy, x' + dx), x' = W − 1 − x flipped.
        const int64_t ix = (draw.flip ? width - 1 - x : x) + draw.dx - pad;
        const bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
        out[y * width + x] = table[inside ? plane[iy * width + ix] : 0];
      }
    }
  }
  apply_cutout(config, draw.cy, draw.cx, channels, height, width, dst);
}

void apply_cutout(const TransformConfig& config, int64_t cy, int64_t cx, int64_t channels,
                  int64_t height, int64_t width, float* dst) {
  if (config.cutout <= 0) return;
  const int64_t half = config.cutout / 2;
  const int64_t y1 = std::clamp<int64_t>(cy - half, 0, height),
                y2 = std::clamp<int64_t>(cy + half, 0, height),
                x1 = std::clamp<int64_t>(cx - half, 0, width),
                x2 = std::clamp<int64_t>(cx + half, 0, width);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = y1; y < y2; ++y)
      std::fill(dst + (c * height + y) * width + x1, dst + (c * height + y) * width + x2, 0.0f);
}

}  // namespace autonet::data
