// Bilinear resizing as torchvision does it on PIL images (PIL's BILINEAR resample): separable,
// each output pixel a normalised triangle-weighted sum of the input pixels around its centre;
// when shrinking, the triangle widens by the scale factor, so the result is antialiased rather
// than sampled. Computed in float (PIL rounds to bytes between the two passes).
#pragma once
#include <cstdint>

#include "datasets/image_codec.h"

namespace autonet::data {

// A window of an image: rows [top, top + height), columns [left, left + width).
struct Window {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Resizes `window` of `image` (as if cropped first: pixels outside it are never read) to
// out_height × out_width. dst: f32 [3, out_height, out_width], values in [0, 255].
void resize_bilinear(const RgbImage& image, const Window& window, int64_t out_height,
                     int64_t out_width, float* dst);

}  // namespace autonet::data
