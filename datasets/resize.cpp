#include "datasets/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/error.h"

namespace autonet::data {
namespace {

// For each of `out` output pixels along one axis: the first input pixel it reads and the
// normalised weights of the pixels from there (PIL's precompute_coeffs with the triangle filter).
struct AxisWeights {
  std::vector<int64_t> first, count;
  std::vector<float> weights;  // out × stride
  int64_t stride = 0;
};

AxisWeights axis_weights(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double widen = std::max(scale, 1.0);  // the triangle's half-width, in input pixels
  AxisWeights a;
  a.stride = static_cast<int64_t>(std::ceil(widen)) * 2 + 1;
  a.first.resize(out);
  a.count.resize(out);
  a.weights.assign(static_cast<size_t>(out * a.stride), 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const double centre = (static_cast<double>(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(centre - widen + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(centre + widen + 0.5), in);
    double total = 0;
    std::vector<double> w(static_cast<size_t>(hi - lo));
    for (int64_t i = lo; i < hi; ++i) {
      const double d = std::abs((static_cast<double>(i) - centre + 0.5) / widen);
      w[i - lo] = d < 1 ? 1 - d : 0;
      total += w[i - lo];
    }
    a.first[o] = lo;
    a.count[o] = hi - lo;
    for (int64_t k = 0; k < hi - lo; ++k)
      a.weights[o * a.stride + k] = static_cast<float>(total > 0 ? w[k] / total : 0);
  }
  return a;
}

}  // namespace

void resize_bilinear(const RgbImage& image, const Window& window, int64_t out_height,
                     int64_t out_width, float* dst) {
  AN_CHECK(window.top >= 0 && window.left >= 0 && window.height > 0 && window.width > 0 &&
           window.top + window.height <= image.height &&
           window.left + window.width <= image.width)
      << "resize: window (" << window.top << ", " << window.left << ", " << window.height << "×"
      << window.width << ") outside the " << image.height << "×" << image.width << " image";
  AN_CHECK(out_height > 0 && out_width > 0)
      << "resize: output " << out_height << "×" << out_width;
  const AxisWeights across = axis_weights(window.width, out_width);
  const AxisWeights down = axis_weights(window.height, out_height);
  // Pass 1, along rows: [window.height, out_width, 3].
  std::vector<float> rows(static_cast<size_t>(window.height * out_width * 3));
  for (int64_t y = 0; y < window.height; ++y) {
    const uint8_t* src = image.pixels.data() + ((window.top + y) * image.width + window.left) * 3;
    for (int64_t x = 0; x < out_width; ++x) {
      const float* w = &across.weights[x * across.stride];
      float r = 0, g = 0, b = 0;
      for (int64_t k = 0; k < across.count[x]; ++k) {
        const uint8_t* p = src + (across.first[x] + k) * 3;
        r += w[k] * p[0];
        g += w[k] * p[1];
        b += w[k] * p[2];
      }
      float* out = &rows[(y * out_width + x) * 3];
      out[0] = r;
      out[1] = g;
      out[2] = b;
    }
  }
  // Pass 2, down columns, into planes.
  const int64_t plane = out_height * out_width;
  for (int64_t y = 0; y < out_height; ++y) {
    const float* w = &down.weights[y * down.stride];
    for (int64_t x = 0; x < out_width; ++x) {
      float sum[3] = {0, 0, 0};
      for (int64_t k = 0; k < down.count[y]; ++k) {
        const float* p = &rows[((down.first[y] + k) * out_width + x) * 3];
        for (int c = 0; c < 3; ++c) sum[c] += w[k] * p[c];
      }
      for (int c = 0; c < 3; ++c) dst[c * plane + y * out_width + x] = sum[c];
    }
  }
}

}  // namespace autonet::data
