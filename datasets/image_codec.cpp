#include "datasets/image_codec.h"

// clang-format off: jpeglib.h needs <cstdio> first.
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstdlib>
#include <cstring>

#include "datasets/file_io.h"
#include "report/atomic_file.h"
#include "runtime/error.h"

namespace autonet::data {
namespace {

bool is_jpeg(const uint8_t* b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }
bool is_png(const uint8_t* b, size_t n) { return n >= 8 && png_sig_cmp(b, 0, 8) == 0; }

// libjpeg reports errors through a callback that must not return: it jumps back to decode_jpeg.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  info->err->format_message(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are ignored (as PIL does: "extraneous bytes before marker" is common in real photos),
// except a premature end of data, which libjpeg would paper over with grey rows.
void jpeg_warn(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

// The decoder state lives in the caller's frame, so nothing here is left indeterminate by the
// longjmp; libjpeg's own frames in between hold no C++ objects.
struct JpegDecoder {
  jpeg_decompress_struct info;
  JpegErrors errors;
  bool cmyk = false, adobe = false;
};

bool decode_jpeg(const uint8_t* bytes, size_t size, JpegDecoder* d, RgbImage* out) {
  d->info.err = jpeg_std_error(&d->errors.manager);
  d->errors.manager.error_exit = jpeg_fail;
  d->errors.manager.emit_message = jpeg_warn;
  if (setjmp(d->errors.jump)) {
    jpeg_destroy_decompress(&d->info);
    return false;
  }
  jpeg_create_decompress(&d->info);
  jpeg_mem_src(&d->info, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&d->info, TRUE);
  d->cmyk = d->info.jpeg_color_space == JCS_CMYK || d->info.jpeg_color_space == JCS_YCCK;
  d->adobe = d->info.saw_Adobe_marker;
  d->info.out_color_space = d->cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo expands grey to RGB
  jpeg_start_decompress(&d->info);
  const int64_t channels = d->info.output_components;
  out->height = d->info.output_height;
  out->width = d->info.output_width;
  out->pixels.resize(static_cast<size_t>(out->height * out->width * channels));
  while (d->info.output_scanline < d->info.output_height) {
    JSAMPROW row = out->pixels.data() + d->info.output_scanline * out->width * channels;
    jpeg_read_scanlines(&d->info, &row, 1);
  }
  jpeg_finish_decompress(&d->info);
  jpeg_destroy_decompress(&d->info);
  return true;
}

// CMYK → RGB in place (4 bytes per pixel → 3), as PIL: R = (255 − C)(255 − K)/255. Adobe files
// store 255 − C, ..., so there R = C′K′/255 with the stored values.
void cmyk_to_rgb(bool adobe_inverted, RgbImage* image) {
  const int64_t n = image->height * image->width;
  uint8_t* p = image->pixels.data();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* s = p + 4 * i;
    const int k = adobe_inverted ? s[3] : 255 - s[3];
    for (int c = 0; c < 3; ++c) {
      const int ink = adobe_inverted ? s[c] : 255 - s[c];
      p[3 * i + c] = static_cast<uint8_t>((ink * k + 127) / 255);
    }
  }
  image->pixels.resize(static_cast<size_t>(3 * n));
}

RgbImage decode_png(const uint8_t* bytes, size_t size, const std::string& name) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  AN_CHECK(png_image_begin_read_from_memory(&png, bytes, size))
      << name << ": not a readable PNG (" << png.message << ")";
  // RGBA and then dropping alpha: PIL's convert("RGB") drops it; libpng's RGB output would
  // composite it onto a background instead.
  png.format = PNG_FORMAT_RGBA;
  RgbImage out{png.height, png.width, {}};
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
  const bool ok = png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr);
  const std::string message = png.message;
  png_image_free(&png);
  AN_CHECK(ok) << name << ": corrupt or truncated PNG (" << message << ")";
  const int64_t n = out.height * out.width;
  out.pixels.resize(static_cast<size_t>(3 * n));
  for (int64_t i = 0; i < n; ++i) std::memcpy(&out.pixels[3 * i], &rgba[4 * i], 3);
  return out;
}

struct JpegEncoder {
  jpeg_compress_struct info;
  JpegErrors errors;
  unsigned char* buffer = nullptr;  // malloc'ed by libjpeg
  unsigned long size = 0;
};

bool encode_jpeg(const uint8_t* pixels, int64_t height, int64_t width, int channels, int quality,
                 JpegEncoder* e) {
  e->info.err = jpeg_std_error(&e->errors.manager);
  e->errors.manager.error_exit = jpeg_fail;
  if (setjmp(e->errors.jump)) {
    jpeg_destroy_compress(&e->info);
    return false;
  }
  jpeg_create_compress(&e->info);
  jpeg_mem_dest(&e->info, &e->buffer, &e->size);
  e->info.image_width = static_cast<JDIMENSION>(width);
  e->info.image_height = static_cast<JDIMENSION>(height);
  e->info.input_components = channels;
  e->info.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&e->info);
  jpeg_set_quality(&e->info, quality, TRUE);
  jpeg_start_compress(&e->info, TRUE);
  while (e->info.next_scanline < e->info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels) + int64_t{e->info.next_scanline} * width * channels;
    jpeg_write_scanlines(&e->info, &row, 1);
  }
  jpeg_finish_compress(&e->info);
  jpeg_destroy_compress(&e->info);
  return true;
}

}  // namespace

RgbImage decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  if (is_png(bytes, size)) return decode_png(bytes, size, name);
  AN_CHECK(is_jpeg(bytes, size))
      << name << ": not a JPEG or PNG image (" << size
      << " bytes, without the magic bytes of either)";
  JpegDecoder decoder;
  RgbImage out;
  AN_CHECK(decode_jpeg(bytes, size, &decoder, &out))
      << name << ": corrupt or truncated JPEG (" << decoder.errors.message << ")";
  if (decoder.cmyk) cmyk_to_rgb(decoder.adobe, &out);
  return out;
}

RgbImage read_image(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_raw_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path.string());
}

void write_jpeg(const std::filesystem::path& path, const uint8_t* pixels, int64_t height,
                int64_t width, int channels, int quality) {
  AN_CHECK(channels == 1 || channels == 3 || channels == 4)
      << "write_jpeg: 1, 3 or 4 channels, got " << channels;
  JpegEncoder encoder;
  const bool ok = encode_jpeg(pixels, height, width, channels, quality, &encoder);
  const std::string bytes(reinterpret_cast<const char*>(encoder.buffer), encoder.size);
  std::free(encoder.buffer);
  AN_CHECK(ok) << path.string() << ": cannot encode JPEG (" << encoder.errors.message << ")";
  report::write_file_atomically(path, bytes);
}

void write_png(const std::filesystem::path& path, const uint8_t* pixels, int64_t height,
               int64_t width, int channels) {
  AN_CHECK(channels >= 1 && channels <= 4) << "write_png: 1 to 4 channels, got " << channels;
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(width);
  png.height = static_cast<png_uint_32>(height);
  png.format = channels == 1   ? PNG_FORMAT_GRAY
               : channels == 2 ? PNG_FORMAT_GA
               : channels == 3 ? PNG_FORMAT_RGB
                               : PNG_FORMAT_RGBA;
  const bool ok = png_image_write_to_file(&png, path.c_str(), 0, pixels, 0, nullptr);
  AN_CHECK(ok) << path.string() << ": cannot write PNG (" << png.message << ")";
}

}  // namespace autonet::data
