#include "datasets/image_dataset.h"

#include <cmath>

namespace autonet::data {

void ChannelHistogram::merge(const ChannelHistogram& other) {
  AN_CHECK(other.counts.size() == counts.size())
      << "merging histograms of " << other.counts.size() << " and " << counts.size()
      << " channels";
  for (size_t c = 0; c < counts.size(); ++c)
    for (int v = 0; v < 256; ++v) counts[c][v] += other.counts[c][v];
}

void ChannelHistogram::stats(std::vector<float>* mean, std::vector<float>* std) const {
  mean->assign(counts.size(), 0.0f);
  std->assign(counts.size(), 0.0f);
  for (size_t c = 0; c < counts.size(); ++c) {
    double count = 0, sum = 0, sum_sq = 0;
    for (int v = 0; v < 256; ++v) {
      count += static_cast<double>(counts[c][v]);
      sum += static_cast<double>(counts[c][v]) * v;
      sum_sq += static_cast<double>(counts[c][v]) * v * v;
    }
    AN_CHECK(count > 0) << "channel statistics of no pixels";
    const double m = sum / count;
    const double var = sum_sq / count - m * m;
    (*mean)[c] = static_cast<float>(m / 255.0);
    (*std)[c] = static_cast<float>(std::sqrt(var > 0 ? var : 0.0) / 255.0);
  }
}

void channel_stats(const Tensor& images, std::vector<float>* mean, std::vector<float>* std) {
  AN_CHECK(images.defined() && images.dim() == 4 && images.dtype() == DType::u8 &&
           images.is_contiguous())
      << "channel_stats expects contiguous u8 [N, C, H, W], got " << images.describe();
  const int64_t n = images.size(0), c = images.size(1), plane = images.size(2) * images.size(3);
  AN_CHECK(n > 0 && plane > 0) << "channel_stats of an empty image set " << images.describe();
  const uint8_t* px = images.data<uint8_t>();
  ChannelHistogram histogram(c);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = px + (i * c + ch) * plane;
      for (int64_t k = 0; k < plane; ++k) ++histogram.counts[ch][p[k]];
    }
  histogram.stats(mean, std);
}

}  // namespace autonet::data
