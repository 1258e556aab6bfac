#include "datasets/image_dataset.h"

#include <cmath>

namespace autonet::data {

void channel_stats(const Tensor& images, std::vector<float>* mean, std::vector<float>* std) {
  AN_CHECK(images.defined() && images.dim() == 4 && images.dtype() == DType::u8 &&
           images.is_contiguous())
      << "channel_stats expects contiguous u8 [N, C, H, W], got " << images.describe();
  const int64_t n = images.size(0), c = images.size(1), plane = images.size(2) * images.size(3);
  AN_CHECK(n > 0 && plane > 0) << "channel_stats of an empty image set " << images.describe();
  const uint8_t* px = images.data<uint8_t>();
  mean->assign(c, 0.0f);
  std->assign(c, 0.0f);
  for (int64_t ch = 0; ch < c; ++ch) {
    // Integer sums are exact; a histogram keeps the square sums exact too.
    int64_t hist[256] = {};
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = px + (i * c + ch) * plane;
      for (int64_t k = 0; k < plane; ++k) ++hist[p[k]];
    }
    double sum = 0, sum_sq = 0;
    for (int v = 0; v < 256; ++v) {
      sum += static_cast<double>(hist[v]) * v;
      sum_sq += static_cast<double>(hist[v]) * v * v;
    }
    const double count = static_cast<double>(n * plane);
    const double m = sum / count;
    const double var = sum_sq / count - m * m;
    (*mean)[ch] = static_cast<float>(m / 255.0);
    (*std)[ch] = static_cast<float>(std::sqrt(var > 0 ? var : 0.0) / 255.0);
  }
}

}  // namespace autonet::data
