// JPEG and PNG files to RGB pixels, and back (for tests, benchmarks and exported samples).
// Decoding goes through libjpeg-turbo and libpng; every image comes out as 8-bit RGB, as
// torchvision's ImageFolder loader converts it (PIL's convert("RGB")):
//   grey → R = G = B; grey+alpha and RGBA → the alpha is dropped (not composited);
//   CMYK/YCCK JPEG → RGB = (255 − C)(255 − K)/255 per channel, with Adobe's inverted CMYK undone.
// A truncated JPEG is an error (libjpeg would fill the rest with grey and warn), as in PIL.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace autonet::data {

struct RgbImage {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3], interleaved R, G, B
};

// Decodes a JPEG or PNG (told apart by their magic bytes, not the file name). Throws
// autonet::Error naming `name` and what is wrong (not an image, truncated, corrupt data).
RgbImage decode_image(const uint8_t* bytes, size_t size, const std::string& name);
RgbImage read_image(const std::filesystem::path& path);

// Writes interleaved 8-bit pixels of 1 (grey), 3 (RGB) or 4 channels: JPEG reads 4 as CMYK and
// stores them as given (Adobe inverted, as Photoshop writes them); PNG reads 2 as grey+alpha and
// 4 as RGBA. Throws naming the file on failure.
void write_jpeg(const std::filesystem::path& path, const uint8_t* pixels, int64_t height,
                int64_t width, int channels, int quality = 90);
void write_png(const std::filesystem::path& path, const uint8_t* pixels, int64_t height,
               int64_t width, int channels);

}  // namespace autonet::data
