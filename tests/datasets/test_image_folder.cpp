// Image folders: decoding (JPEG/PNG, grey/colour/alpha/CMYK) against known pixels, class order,
// the photo transforms' geometry, epoch determinism of streamed folders, and every bad case
// with an error naming the file or folder. The folders are written here with libjpeg/libpng.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <numeric>

#include "data_files.h"
#include "datasets/file_io.h"
#include "datasets/image_codec.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "datasets/photo_transform.h"
#include "datasets/registry.h"

namespace autonet::data {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::TempDir;

// h×w pixels of `channels` channels, value (y, x, c) = 40·c + 7·y + 3·x + seed (mod 256).
std::vector<uint8_t> pattern(int64_t h, int64_t w, int channels, int seed = 0) {
  std::vector<uint8_t> px(static_cast<size_t>(h * w * channels));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        px[(y * w + x) * channels + c] = static_cast<uint8_t>((40 * c + 7 * y + 3 * x + seed) % 256);
  return px;
}

std::vector<uint8_t> flat(int64_t h, int64_t w, std::vector<uint8_t> colour) {
  std::vector<uint8_t> px;
  for (int64_t i = 0; i < h * w; ++i) px.insert(px.end(), colour.begin(), colour.end());
  return px;
}

void png(const fs::path& path, int64_t h, int64_t w, int channels, int seed = 0) {
  fs::create_directories(path.parent_path());
  write_png(path, pattern(h, w, channels, seed).data(), h, w, channels);
}

void jpeg(const fs::path& path, int64_t h, int64_t w, std::vector<uint8_t> colour) {
  fs::create_directories(path.parent_path());
  write_jpeg(path, flat(h, w, colour).data(), h, w, static_cast<int>(colour.size()), 100);
}

TEST(ImageCodec, PngDecodesToExactRgb) {
  TempDir dir;
  for (int channels : {1, 2, 3, 4}) {
    const fs::path path = dir / ("p" + std::to_string(channels) + ".png");
    png(path, 3, 5, channels);
    const RgbImage image = read_image(path);
    ASSERT_EQ(image.height, 3);
    ASSERT_EQ(image.width, 5);
    const std::vector<uint8_t> src = pattern(3, 5, channels);
    for (int64_t p = 0; p < 15; ++p)
      for (int c = 0; c < 3; ++c) {
        // Grey (and grey+alpha) spreads to R = G = B; alpha is dropped, never composited.
        const int from = channels <= 2 ? 0 : c;
        ASSERT_EQ(image.pixels[p * 3 + c], src[p * channels + from])
            << channels << " channels, pixel " << p << " channel " << c;
      }
  }
}

TEST(ImageCodec, JpegDecodesGreyColourAndAdobeCmyk) {
  TempDir dir;
  jpeg(dir / "grey.jpg", 9, 13, {77});
  jpeg(dir / "rgb.jpg", 16, 11, {200, 30, 90});
  // Adobe CMYK as Photoshop stores it (inverted): stored C′ = 255 − C; RGB = C′·K′/255.
  jpeg(dir / "cmyk.jpg", 8, 8, {255, 128, 0, 200});
  const auto expect_flat = [](const RgbImage& image, std::vector<int> rgb, const char* what) {
    for (size_t i = 0; i < image.pixels.size(); ++i)
      ASSERT_NEAR(image.pixels[i], rgb[i % 3], 2) << what << " byte " << i;
  };
  const RgbImage grey = read_image(dir / "grey.jpg");
  EXPECT_EQ(grey.height, 9);
  EXPECT_EQ(grey.width, 13);
  expect_flat(grey, {77, 77, 77}, "grey");
  expect_flat(read_image(dir / "rgb.jpg"), {200, 30, 90}, "rgb");
  expect_flat(read_image(dir / "cmyk.jpg"), {200, 100, 0}, "cmyk");  // 255·200/255, 128·200/255, 0
}

TEST(ImageCodec, BadFilesAreErrorsNamingThem) {
  TempDir dir;
  // Varied pixels, so that the cut falls in the scan data, past the headers.
  write_jpeg(dir / "whole.jpg", pattern(64, 64, 3).data(), 64, 64, 3, 95);
  std::vector<uint8_t> bytes = read_raw_bytes(dir / "whole.jpg");
  bytes.resize(bytes.size() * 3 / 4);
  testing::write_bytes(dir / "cut.jpg", bytes);
  expect_error([&] { read_image(dir / "cut.jpg"); }, {"cut.jpg", "truncated JPEG"});
  testing::write_text(dir / "notes.png", "these are notes, not a picture");
  expect_error([&] { read_image(dir / "notes.png"); }, {"notes.png", "not a JPEG or PNG"});
  png(dir / "whole.png", 20, 20, 3);
  bytes = read_raw_bytes(dir / "whole.png");
  bytes.resize(bytes.size() - 30);
  testing::write_bytes(dir / "cut.png", bytes);
  expect_error([&] { read_image(dir / "cut.png"); }, {"cut.png", "PNG"});
}

TEST(ImageCodec, UnreadableFileIsAnErrorNamingIt) {
  // Tests run as root, whom permissions do not stop: drop to an unprivileged user in a child
  // process (a death test) and read there.
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  png(dir / "secret.png", 4, 4, 3);
  fs::permissions(dir / "secret.png", fs::perms::none);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (geteuid() == 0 && (setegid(65534) != 0 || seteuid(65534) != 0)) std::_Exit(3);
        try {
          read_image(dir / "secret.png");
        } catch (const Error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(0);
        }
        std::_Exit(4);
      },
      ::testing::ExitedWithCode(0), "secret.png: cannot open for reading \\(Permission denied\\)");
}

TEST(ImageFolder, ClassesInSortedOrderAndFilesInPathOrder) {
  TempDir dir;
  png(dir / "b" / "2.png", 4, 4, 3);
  png(dir / "b" / "1.PNG", 4, 4, 3);
  png(dir / "a" / "z" / "0.png", 4, 4, 3);  // nested folders belong to their class
  png(dir / "a" / "1.png", 4, 4, 3);
  png(dir / "C" / "x.png", 4, 4, 3);  // byte order: upper case first, as Python's sorted()
  testing::write_text(dir / "b" / "labels.txt", "not an image: ignored");
  const FolderListing list = list_image_folder(dir.path());
  EXPECT_EQ(list.classes, (std::vector<std::string>{"C", "a", "b"}));
  std::vector<std::string> names;
  for (const std::string& p : list.paths) names.push_back(fs::relative(p, dir.path()).string());
  EXPECT_EQ(names, (std::vector<std::string>{"C/x.png", "a/1.png", "a/z/0.png", "b/1.PNG", "b/2.png"}));
  EXPECT_EQ(list.labels, (std::vector<int64_t>{0, 1, 1, 2, 2}));
}

TEST(ImageFolder, TrainingImagesTakeAFixedMixedOrder) {
  TempDir dir;
  for (int i = 0; i < 40; ++i) png(dir / (i < 20 ? "a" : "b") / (std::to_string(i) + ".png"), 2, 2, 3);
  FolderOptions options;
  options.image_size = 8;
  const ImageData data = open_image_dataset("folder", dir.path(), options);
  int64_t first_half_b = 0;
  for (int64_t i = 0; i < 20; ++i) first_half_b += data.train.labels.data<int64_t>()[i];
  EXPECT_GT(first_half_b, 4);  // both classes in the first half (the search's weight split)
  EXPECT_LT(first_half_b, 16);
  EXPECT_EQ(open_image_dataset("folder", dir.path(), options).train.files->paths,
            data.train.files->paths);
}

TEST(ImageFolder, TrainAndValShareTheTrainingClasses) {
  TempDir dir;
  png(dir / "train" / "cat" / "1.png", 8, 8, 3);
  png(dir / "train" / "dog" / "1.png", 8, 8, 3);
  png(dir / "val" / "dog" / "1.png", 8, 8, 3);  // val lacks cat: dog keeps label 1
  const ImageData data = open_image_dataset("folder", dir.path());
  EXPECT_EQ(data.num_classes, 2);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(data.test.size(), 1);
  EXPECT_EQ(data.test.labels.data<int64_t>()[0], 1);
  png(dir / "val" / "cow" / "1.png", 8, 8, 3);
  expect_error([&] { open_image_dataset("folder", dir.path()); }, {"cow", "not one of the 2 training classes"});
}

TEST(ImageFolder, InMemoryImagesAreExactPlanes) {
  TempDir dir;
  png(dir / "a" / "0.png", 3, 5, 3, 11);
  png(dir / "b" / "0.png", 3, 5, 1, 22);
  FolderOptions options;
  options.compute_mean_std = true;
  const ImageData data = open_image_dataset("folder", dir.path(), options);
  ASSERT_EQ(data.train.images.shape(), (Shape{2, 3, 3, 5}));
  const std::vector<uint8_t> a = pattern(3, 5, 3, 11), b = pattern(3, 5, 1, 22);
  for (int64_t i = 0; i < 2; ++i) {  // the training images' order is mixed: find by label
    const uint8_t* px = data.train.images.data<uint8_t>() + i * 45;
    const bool is_a = data.train.labels.data<int64_t>()[i] == 0;
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 15; ++p)  // a grey image has every plane the same
        ASSERT_EQ(px[c * 15 + p], is_a ? a[p * 3 + c] : b[p]) << i;
  }
  EXPECT_EQ(data.test.size(), 0);
  // compute_mean_std: the statistics of these pixels, not ImageNet's constants.
  std::vector<float> mean, std;
  channel_stats(data.train.images, &mean, &std);
  EXPECT_EQ(data.mean, mean);
  EXPECT_EQ(data.std, std);
}

TEST(ImageFolder, BadFoldersAreErrorsNamingThem) {
  TempDir dir;
  expect_error([&] { open_image_dataset("folder", dir / "missing"); }, {"missing", "does not exist"});
  expect_error([&] { open_image_dataset("folder", dir.path()); }, {dir.path().string(), "no class folders"});
  png(dir / "a" / "0.png", 4, 4, 3);
  fs::create_directories(dir / "empty");
  testing::write_text(dir / "empty" / "readme.md", "x");
  expect_error([&] { open_image_dataset("folder", dir.path()); },
               {"empty", "class folder without JPEG or PNG files", "1 other files"});
}

TEST(ImageFolder, MixedSizesNeedAnImageSize) {
  TempDir dir;
  png(dir / "a" / "0.png", 4, 4, 3);
  png(dir / "b" / "0.png", 4, 6, 3);
  expect_error([&] { open_image_dataset("folder", dir.path()); },
               {"b/0.png is 4×6", "a/0.png is 4×4", "--image-size"});
  FolderOptions streamed;
  streamed.image_size = 8;
  const ImageData data = open_image_dataset("folder", dir.path(), streamed);
  EXPECT_FALSE(data.train.images.defined());
  EXPECT_EQ(data.train.height(), 8);
  EXPECT_EQ(data.train.size(), 2);
}

TEST(ImageFolder, BadImagesStopOrAreSkippedAndListed) {
  TempDir dir;
  png(dir / "a" / "0.png", 4, 4, 3);
  png(dir / "a" / "1.png", 4, 4, 3);
  fs::create_directories(dir / "b");
  testing::write_text(dir / "b" / "fake.jpg", "<html>not found</html>");
  png(dir / "b" / "2.png", 4, 4, 3);
  expect_error([&] { open_image_dataset("folder", dir.path()); }, {"fake.jpg", "--skip-bad-images"});
  for (int64_t size : {0, 8}) {
    FolderOptions skip;
    skip.skip_bad_images = true;
    skip.image_size = size;
    const ImageData data = open_image_dataset("folder", dir.path(), skip);
    EXPECT_EQ(data.train.size(), 3) << size;
    ASSERT_EQ(data.skipped_images.size(), 1u) << size;
    // "<path>: <reason>", the path first.
    EXPECT_EQ(data.skipped_images[0].rfind((dir / "b" / "fake.jpg").string() + ": not a JPEG", 0), 0u)
        << data.skipped_images[0];
  }
  // Streamed without skipping: the loader thread that meets it stops the epoch, naming it.
  FolderOptions streamed;
  streamed.image_size = 8;
  const ImageData data = open_image_dataset("folder", dir.path(), streamed);
  LoaderConfig config;
  config.transform = test_transform(data);
  config.workers = 2;
  Loader loader(data.train, {0, 1, 2, 3}, config, 0);
  expect_error([&] { while (loader.next()) {} }, {"fake.jpg", "not a JPEG or PNG"});
}

TEST(ImageFolder, OtherDataSetsRefuseFolderOptions) {
  FolderOptions options;
  options.image_size = 32;
  expect_error([&] { open_image_dataset("cifar10", "/nonexistent", options); },
               {"--image-size", "folder only"});
}

TEST(Resize, SameSizeIsACropAndShrinkingIsTheWidenedTriangle) {
  RgbImage image{2, 4, {}};
  for (int v : {0, 10, 20, 30, 40, 50, 60, 70})
    for (int c = 0; c < 3; ++c) image.pixels.push_back(static_cast<uint8_t>(v + c));
  std::vector<float> out(3 * 1 * 2);
  resize_bilinear(image, {1, 1, 1, 2}, 1, 2, out.data());  // a window at its own size
  EXPECT_EQ(out, (std::vector<float>{50, 60, 51, 61, 52, 62}));
  // Row 0, 4 → 2: triangle of half-width 2 around 1.0 and 3.0 (hand-computed, as PIL):
  // out0 = (0·.75 + 10·.75 + 20·.25)/1.75, out1 = (10·.25 + 20·.75 + 30·.75)/1.75.
  resize_bilinear(image, {0, 0, 1, 4}, 1, 2, out.data());
  EXPECT_NEAR(out[0], 12.5 / 1.75, 1e-4);
  EXPECT_NEAR(out[1], 40.0 / 1.75, 1e-4);
}

TEST(PhotoTransform, CentreCropGeometryAsTorchvision) {
  // Resize(256) of 375×500 → 256×341 (⌊256·500/375⌋), CenterCrop(224) at round(16), round(58.5).
  CentreCrop c = centre_crop(375, 500, 224);
  EXPECT_EQ(c.resized_height, 256);
  EXPECT_EQ(c.resized_width, 341);
  EXPECT_EQ(c.keep.top, 16);
  EXPECT_EQ(c.keep.left, 58);
  c = centre_crop(100, 40, 32);  // portrait, size 32: shorter side round(32·256/224) = 37
  EXPECT_EQ(c.resized_width, 37);
  EXPECT_EQ(c.resized_height, 92);
  EXPECT_EQ(c.keep.top, 30);
  EXPECT_EQ(c.keep.left, 2);
}

TEST(PhotoTransform, RandomResizedCropsStayInsideAndInRange) {
  TransformConfig config{0, true, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0, {32, true, {}}};
  int fallbacks = 0, flips = 0;
  for (uint64_t p = 0; p < 500; ++p) {
    const PhotoDraw d = draw_photo(config, 60, 90, 7, 3, p);
    ASSERT_GE(d.crop.top, 0);
    ASSERT_GE(d.crop.left, 0);
    ASSERT_LE(d.crop.top + d.crop.height, 60);
    ASSERT_LE(d.crop.left + d.crop.width, 90);
    const double area = static_cast<double>(d.crop.height * d.crop.width) / (60 * 90);
    const double aspect = static_cast<double>(d.crop.width) / d.crop.height;
    if (d.crop.height == 60 && d.crop.width == 80) ++fallbacks;
    ASSERT_GT(area, 0.06) << p;
    ASSERT_GT(aspect, 0.6) << p;
    ASSERT_LT(aspect, 1.6) << p;
    flips += d.flip;
  }
  EXPECT_LT(fallbacks, 5);
  EXPECT_GT(flips, 200);
  EXPECT_LT(flips, 300);
  // A 1×100 strip fits no crop of the aspect range: the centre, clipped to 4/3.
  const PhotoDraw strip = draw_photo(config, 1, 100, 7, 3, 0);
  EXPECT_EQ(strip.crop.height, 1);
  EXPECT_EQ(strip.crop.width, 1);
  EXPECT_EQ(strip.crop.left, 49);
}

TEST(PhotoTransform, ColourJitterOperations) {
  // One red and one grey pixel, planes [3, 2].
  const auto run = [](int op, float factor) {
    std::vector<float> planes = {255, 100, 0, 100, 0, 100};
    PhotoDraw d;  // the other three factors are identities
    d.jitter[op] = factor;
    jitter_colours(d, 2, planes.data());
    return planes;
  };
  const std::vector<float> brighter = run(0, 2.0f), expected = {255, 200, 0, 200, 0, 200};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(brighter[i], expected[i], 1e-3) << i;  // 255 clamps
  const float red_grey = 0.299f * 255;
  const std::vector<float> desaturated = run(2, 0.0f);
  EXPECT_NEAR(desaturated[0], red_grey, 1e-3);
  EXPECT_NEAR(desaturated[2], red_grey, 1e-3);
  EXPECT_NEAR(desaturated[1], 100, 1e-3);
  const float mean = (red_grey + 100) / 2;
  const std::vector<float> flattened = run(1, 0.0f);
  for (float v : flattened) EXPECT_NEAR(v, mean, 1e-3);
  const std::vector<float> turned = run(3, 0.5f);  // red half-way round the wheel: cyan
  EXPECT_NEAR(turned[0], 0, 1e-3);
  EXPECT_NEAR(turned[2], 255, 1e-3);
  EXPECT_NEAR(turned[4], 255, 1e-3);
  EXPECT_NEAR(turned[1], 100, 1e-3);  // grey has no hue
}

TEST(PhotoTransform, StreamedEpochsArePureFunctionsOfSeedAndEpoch) {
  TempDir dir;
  for (int i = 0; i < 6; ++i) {
    png(dir / "a" / (std::to_string(i) + ".png"), 20 + i, 30 - i, i % 2 ? 3 : 1, i);
    jpeg(dir / "b" / (std::to_string(i) + ".jpg"), 17, 23 + 2 * i,
         {static_cast<uint8_t>(40 * i), 90, 200});
  }
  FolderOptions options;
  options.image_size = 16;
  const ImageData data = open_image_dataset("folder", dir.path(), options);
  std::vector<int64_t> all(12);
  std::iota(all.begin(), all.end(), 0);
  const auto epoch = [&](int workers, uint64_t e) {
    LoaderConfig config;
    config.batch_size = 5;
    config.transform = train_transform(data);
    config.workers = workers;
    config.seed = 9;
    Loader loader(data.train, all, config, e);
    std::vector<float> values;
    while (auto b = loader.next()) {
      EXPECT_EQ(b->images.size(1), 3);
      EXPECT_EQ(b->images.size(2), 16);
      values.insert(values.end(), b->images.data<float>(),
                    b->images.data<float>() + b->images.numel());
    }
    return values;
  };
  const std::vector<float> first = epoch(0, 4);
  EXPECT_EQ(first.size(), 12u * 3 * 16 * 16);
  EXPECT_EQ(epoch(2, 4), first);
  EXPECT_NE(epoch(2, 5), first);
}

}  // namespace
}  // namespace autonet::data
