#include "datasets/photo_transform.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "datasets/random_order.h"
#include "runtime/error.h"

namespace autonet::data {
namespace {

// Philox words of one photo's draws (64 per position in the epoch).
constexpr uint64_t kWordsPerPhoto = 64;
constexpr uint64_t kCropWords = 0;     // 10 tries × (area, aspect, top, left)
constexpr uint64_t kFlipWord = 40;
constexpr uint64_t kJitterWords = 41;  // 4 factors, then 3 for the order
constexpr uint64_t kCutoutWords = 48;
constexpr int kCropTries = 10;

bool jitters(const ColorJitter& j) {
  return j.brightness > 0 || j.contrast > 0 || j.saturation > 0 || j.hue > 0;
}

// torchvision's RandomResizedCrop.get_params with scale (0.08, 1), ratio (3/4, 4/3). Python's
// round() rounds halves to even, as std::nearbyint does.
template <class Uniform, class Below>
Window random_resized_crop(int64_t height, int64_t width, Uniform uniform, Below below) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int t = 0; t < kCropTries; ++t) {
    const uint64_t w0 = kCropWords + 4 * static_cast<uint64_t>(t);
    const double target = area * uniform(w0, 0.08, 1.0);
    const double aspect = std::exp(uniform(w0 + 1, log_lo, log_hi));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height)
      return {below(w0 + 2, height - h + 1), below(w0 + 3, width - w + 1), h, w};
  }
  // Fallback: the centre, clipped to the aspect range.
  const double ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t h = height, w = width;
  if (ratio < 3.0 / 4.0) h = static_cast<int64_t>(std::nearbyint(w / (3.0 / 4.0)));
  else if (ratio > 4.0 / 3.0) w = static_cast<int64_t>(std::nearbyint(h * (4.0 / 3.0)));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

float clamp_byte(float v) { return std::clamp(v, 0.0f, 255.0f); }
float grey(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }  // PIL's L

void rotate_hue(float shift, float* r, float* g, float* b) {
  const float maxc = std::max({*r, *g, *b}), minc = std::min({*r, *g, *b});
  const float delta = maxc - minc;
  if (delta <= 0) return;  // grey: no hue to turn
  float h;
  if (maxc == *r) h = std::fmod((*g - *b) / delta + 6.0f, 6.0f);
  else if (maxc == *g) h = (*b - *r) / delta + 2.0f;
  else h = (*r - *g) / delta + 4.0f;
  h = h / 6.0f + shift;
  h -= std::floor(h);
  const float v = maxc, s = delta / maxc, sector = h * 6.0f;
  const int i = static_cast<int>(sector) % 6;
  const float f = sector - std::floor(sector);
  const float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  *r = rgb[i][0];
  *g = rgb[i][1];
  *b = rgb[i][2];
}

}  // namespace

PhotoDraw draw_photo(const TransformConfig& config, int64_t height, int64_t width, uint64_t seed,
                     uint64_t epoch, uint64_t position) {
  const PhiloxKey key{seed, kPhotoStream, epoch_offset(epoch)};
  const uint64_t base = position * kWordsPerPhoto;
  auto uniform = [&](uint64_t word, double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(philox_bits(key, base + word)) * 0x1p-32;
  };
  auto below = [&](uint64_t word, int64_t bound) {
    return static_cast<int64_t>(philox_below(philox_bits(key, base + word),
                                             static_cast<uint64_t>(bound)));
  };
  PhotoDraw d;
  d.crop = {0, 0, height, width};
  if (config.photo.random_crop) d.crop = random_resized_crop(height, width, uniform, below);
  if (config.flip) d.flip = (philox_bits(key, base + kFlipWord) >> 31) != 0;
  const ColorJitter& j = config.photo.jitter;
  if (jitters(j)) {
    const float spread[3] = {j.brightness, j.contrast, j.saturation};
    for (int k = 0; k < 3; ++k)
      if (spread[k] > 0)
        d.jitter[k] = static_cast<float>(
            uniform(kJitterWords + k, std::max(0.0f, 1 - spread[k]), 1 + spread[k]));
    if (j.hue > 0) d.jitter[3] = static_cast<float>(uniform(kJitterWords + 3, -j.hue, j.hue));
    for (int k = 3; k > 0; --k)  // Fisher–Yates over the four operations
      std::swap(d.jitter_order[k], d.jitter_order[below(kJitterWords + 4 + (3 - k), k + 1)]);
  }
  if (config.cutout > 0) {
    d.cy = below(kCutoutWords, config.photo.size);
    d.cx = below(kCutoutWords + 1, config.photo.size);
  }
  return d;
}

CentreCrop centre_crop(int64_t height, int64_t width, int64_t size) {
  // Resize(s) scales the shorter side to s and the longer to ⌊s · long / short⌋ (torchvision).
  const auto side = static_cast<int64_t>(std::nearbyint(static_cast<double>(size) * 256 / 224));
  CentreCrop c;
  if (height <= width) {
    c.resized_height = side;
    c.resized_width = side * width / height;
  } else {
    c.resized_width = side;
    c.resized_height = side * height / width;
  }
  // CenterCrop: offsets round((resized − size) / 2).
  c.keep = {static_cast<int64_t>(std::nearbyint((c.resized_height - size) / 2.0)),
            static_cast<int64_t>(std::nearbyint((c.resized_width - size) / 2.0)), size, size};
  return c;
}

void jitter_colours(const PhotoDraw& draw, int64_t n, float* planes) {
  float* r = planes;
  float* g = planes + n;
  float* b = planes + 2 * n;
  for (int op : draw.jitter_order) {
    const float f = draw.jitter[op];
    if (op == 0) {  // brightness: blend with black
      for (int64_t i = 0; i < 3 * n; ++i) planes[i] = clamp_byte(planes[i] * f);
    } else if (op == 1) {  // contrast: blend with the mean grey of the image
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += grey(r[i], g[i], b[i]);
      const auto mean = static_cast<float>(sum / static_cast<double>(n));
      for (int64_t i = 0; i < 3 * n; ++i) planes[i] = clamp_byte(mean + f * (planes[i] - mean));
    } else if (op == 2) {  // saturation: blend with the pixel's grey
      for (int64_t i = 0; i < n; ++i) {
        const float l = grey(r[i], g[i], b[i]);
        r[i] = clamp_byte(l + f * (r[i] - l));
        g[i] = clamp_byte(l + f * (g[i] - l));
        b[i] = clamp_byte(l + f * (b[i] - l));
      }
    } else if (f != 0) {  // hue: turn the colour wheel
      for (int64_t i = 0; i < n; ++i) rotate_hue(f, &r[i], &g[i], &b[i]);
    }
  }
}

void transform_photo(const RgbImage& photo, const TransformConfig& config, const PhotoDraw& draw,
                     float* dst) {
  const int64_t size = config.photo.size, plane = size * size;
  AN_CHECK(size > 0) << "transform_photo: the config has no photo size";
  if (config.photo.random_crop) {
    resize_bilinear(photo, draw.crop, size, size, dst);
  } else {
    const CentreCrop c = centre_crop(photo.height, photo.width, size);
    std::vector<float> resized(static_cast<size_t>(3 * c.resized_height * c.resized_width));
    resize_bilinear(photo, {0, 0, photo.height, photo.width}, c.resized_height, c.resized_width,
                    resized.data());
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < size; ++y)
        std::copy_n(&resized[(ch * c.resized_height + c.keep.top + y) * c.resized_width +
                             c.keep.left],
                    size, dst + ch * plane + y * size);
  }
  if (draw.flip)
    for (int64_t row = 0; row < 3 * size; ++row) std::reverse(dst + row * size, dst + (row + 1) * size);
  if (jitters(config.photo.jitter)) jitter_colours(draw, plane, dst);
  for (int64_t ch = 0; ch < 3; ++ch) {
    const float mean = config.mean[ch], std = config.std[ch];
    for (int64_t i = 0; i < plane; ++i)
      dst[ch * plane + i] = (dst[ch * plane + i] / 255.0f - mean) / std;
  }
  apply_cutout(config, draw.cy, draw.cx, 3, size, size, dst);
}

}  // namespace autonet::data
