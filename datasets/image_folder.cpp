#include "datasets/image_folder.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <utility>

#include "datasets/file_io.h"
#include "datasets/image_codec.h"
#include "datasets/random_order.h"
#include "runtime/error.h"

namespace autonet::data {
namespace {

const char* kLayout =
    "An image folder holds one subfolder per class with that class's JPEG and PNG images "
    "(DIR/cat/1.jpg, DIR/dog/2.png, ...), or DIR/train and DIR/val laid out so.";

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> class_folders(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) names.push_back(it->path().filename().string());
  AN_CHECK(!ec) << dir.string() << ": cannot list the folder (" << ec.message() << ")";
  std::sort(names.begin(), names.end());
  return names;
}

// The image files under `dir` (recursively, following links) in ImageFolder's order: by folder,
// then by name. `others` counts the files skipped for their extension.
std::vector<std::string> image_files(const fs::path& dir, int64_t* others) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, name)
  std::error_code ec;
  const auto follow = fs::directory_options::follow_directory_symlink;
  for (fs::recursive_directory_iterator it(dir, follow, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code kind;
    if (it->is_directory(kind)) continue;
    if (has_image_extension(it->path()))
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    else
      ++*others;
  }
  AN_CHECK(!ec) << dir.string() << ": cannot list the folder (" << ec.message() << ")";
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : found) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

int decoding_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 32u));
}

// Decodes every path on several threads. `visit(thread, i, image, error)` gets the image (error
// empty) or the error message (image null); it is called concurrently for different i.
using Visit = std::function<void(int, int64_t, RgbImage*, const std::string&)>;
void decode_all(const std::vector<std::string>& paths, const Visit& visit) {
  std::atomic<int64_t> next{0};
  auto work = [&](int thread) {
    for (int64_t i = next++; i < static_cast<int64_t>(paths.size()); i = next++) {
      RgbImage image;
      std::string error;
      try {
        image = read_image(paths[i]);
      } catch (const std::exception& e) {
        // From the file's name on: "<path>: <what is wrong>", without the source location.
        error = e.what();
        const size_t at = error.find(paths[i]);
        if (at != std::string::npos) error.erase(0, at);
      }
      visit(thread, i, error.empty() ? &image : nullptr, error);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < decoding_threads(); ++t) threads.emplace_back(work, t);
  for (std::thread& t : threads) t.join();
}

// What opening a listing decoded: the kept images (in order) and the skipped ones.
struct Decoded {
  std::vector<int64_t> kept;  // indices into the listing
  std::vector<RgbImage> images;
  ChannelHistogram histogram{3};
};

// Decodes a whole listing, keeping the pixels or only their histogram; bad files stop with
// their error, or are skipped and recorded.
Decoded decode_listing(const FolderListing& listing, bool keep_pixels, bool skip_bad,
                       std::vector<std::string>* skipped) {
  const int64_t n = static_cast<int64_t>(listing.paths.size());
  std::vector<RgbImage> images(keep_pixels ? n : 0);
  std::vector<std::string> errors(n);
  std::vector<ChannelHistogram> histograms(decoding_threads(), ChannelHistogram(3));
  decode_all(listing.paths, [&](int thread, int64_t i, RgbImage* image, const std::string& error) {
    if (!image) {
      errors[i] = error;
      return;
    }
    auto& counts = histograms[thread].counts;
    for (size_t k = 0; k < image->pixels.size(); ++k) ++counts[k % 3][image->pixels[k]];
    if (keep_pixels) images[i] = std::move(*image);
  });
  Decoded out;
  for (const ChannelHistogram& h : histograms) out.histogram.merge(h);
  for (int64_t i = 0; i < n; ++i) {
    if (errors[i].empty()) {
      out.kept.push_back(i);
      if (keep_pixels) out.images.push_back(std::move(images[i]));
      continue;
    }
    AN_CHECK(skip_bad) << errors[i] << " (--skip-bad-images leaves unreadable images out)";
    skipped->push_back(errors[i]);
  }
  return out;
}

Tensor labels_of(const FolderListing& listing, const std::vector<int64_t>& kept) {
  Tensor labels = Tensor::empty({static_cast<int64_t>(kept.size())}, DType::i64);
  for (size_t k = 0; k < kept.size(); ++k) labels.data<int64_t>()[k] = listing.labels[kept[k]];
  return labels;
}

// Images in memory: all of one size (`shape` holds it once known: train and val must agree).
ImageSet pack(const FolderListing& listing, Decoded decoded,
              std::pair<int64_t, int64_t>* shape, std::string* shape_from) {
  const int64_t n = static_cast<int64_t>(decoded.images.size());
  for (int64_t k = 0; k < n; ++k) {
    const RgbImage& image = decoded.images[k];
    const std::string& path = listing.paths[decoded.kept[k]];
    if (shape_from->empty()) {
      *shape = {image.height, image.width};
      *shape_from = path;
    }
    AN_CHECK(image.height == shape->first && image.width == shape->second)
        << path << " is " << image.height << "×" << image.width << " but " << *shape_from
        << " is " << shape->first << "×" << shape->second
        << ": images kept in memory (--image-size 0) must all have one size; pass --image-size S "
           "to resize and crop every image to S×S instead";
  }
  ImageSet set{Tensor::empty({n, 3, shape->first, shape->second}, DType::u8),
               labels_of(listing, decoded.kept), nullptr};
  const int64_t plane = shape->first * shape->second;
  uint8_t* out = set.images.data<uint8_t>();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < 3; ++c) out[(k * 3 + c) * plane + p] = decoded.images[k].pixels[p * 3 + c];
  return set;
}

ImageSet file_set(const FolderListing& listing, const std::vector<int64_t>& kept, int64_t size) {
  auto files = std::make_shared<ImageFiles>();
  files->size = size;
  for (int64_t i : kept) files->paths.push_back(listing.paths[i]);
  return {Tensor(), labels_of(listing, kept), std::move(files)};
}

// The listing in a fixed pseudo-random order (the same for every run and seed), as CIFAR's
// files are: class by class, the first N images (--subset) or the search split's first part
// would hold only the first classes.
FolderListing mixed(FolderListing listing) {
  std::vector<int64_t> order(listing.paths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  philox_shuffle(order, PhiloxKey{0, kFolderOrderStream, 0});
  FolderListing out{listing.classes, {}, {}};
  for (int64_t i : order) {
    out.paths.push_back(std::move(listing.paths[i]));
    out.labels.push_back(listing.labels[i]);
  }
  return out;
}

std::vector<int64_t> all_of(const FolderListing& listing) {
  std::vector<int64_t> v(listing.paths.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

}  // namespace

FolderListing list_image_folder(const fs::path& dir, const std::vector<std::string>* classes) {
  require_folder(dir, "folder", kLayout);
  FolderListing out;
  const std::vector<std::string> found = class_folders(dir);
  AN_CHECK(!found.empty()) << dir.string() << ": no class folders. " << kLayout;
  out.classes = classes ? *classes : found;
  for (const std::string& name : found) {
    const auto at = std::find(out.classes.begin(), out.classes.end(), name);
    AN_CHECK(at != out.classes.end())
        << (dir / name).string() << ": class '" << name << "' is not one of the "
        << out.classes.size() << " training classes";
    int64_t others = 0;
    const std::vector<std::string> files = image_files(dir / name, &others);
    AN_CHECK(!files.empty()) << (dir / name).string() << ": class folder without JPEG or PNG "
                             << "files (.jpg, .jpeg, .png; " << others << " other files)";
    out.paths.insert(out.paths.end(), files.begin(), files.end());
    out.labels.insert(out.labels.end(), files.size(), at - out.classes.begin());
  }
  return out;
}

ImageData read_image_folder(const fs::path& dir, const FolderOptions& options) {
  AN_CHECK(options.image_size >= 0) << "--image-size must be 0 (images as they are) or positive, "
                                    << "got " << options.image_size;
  require_folder(dir, "folder", kLayout);
  std::error_code ec;
  const bool split = fs::is_directory(dir / "train", ec) && fs::is_directory(dir / "val", ec);
  const FolderListing train = mixed(list_image_folder(split ? dir / "train" : dir));
  FolderListing val;
  if (split) val = list_image_folder(dir / "val", &train.classes);

  ImageData data;
  data.name = "folder";
  data.num_classes = static_cast<int64_t>(train.classes.size());
  data.class_names = train.classes;
  data.mean = {0.485f, 0.456f, 0.406f};
  data.std = {0.229f, 0.224f, 0.225f};
  std::vector<std::string>* skipped = &data.skipped_images;
  if (options.image_size == 0) {
    std::pair<int64_t, int64_t> shape;
    std::string shape_from;
    data.train = pack(train, decode_listing(train, true, options.skip_bad_images, skipped), &shape,
                      &shape_from);
    if (split)
      data.test = pack(val, decode_listing(val, true, options.skip_bad_images, skipped), &shape,
                       &shape_from);
    if (options.compute_mean_std) channel_stats(data.train.images, &data.mean, &data.std);
  } else {
    // Streamed: decode up front only to find the bad files or to measure the colours.
    std::vector<int64_t> kept = all_of(train);
    if (options.skip_bad_images || options.compute_mean_std) {
      const Decoded d = decode_listing(train, false, options.skip_bad_images, skipped);
      kept = d.kept;
      if (options.compute_mean_std) d.histogram.stats(&data.mean, &data.std);
    }
    data.train = file_set(train, kept, options.image_size);
    if (split)
      data.test = file_set(val,
                           options.skip_bad_images
                               ? decode_listing(val, false, true, skipped).kept
                               : all_of(val),
                           options.image_size);
  }
  AN_CHECK(data.train.size() > 0) << dir.string() << ": no readable training images ("
                                  << skipped->size() << " skipped)";
  return data;
}

namespace {

std::string zero_padded(int64_t value, int64_t largest) {
  const std::string digits = std::to_string(value);
  return std::string(std::to_string(largest).size() - digits.size(), '0') + digits;
}

int64_t write_split(const ImageSet& set, int64_t num_classes, const fs::path& dir, int64_t limit) {
  AN_CHECK(!set.files) << "write_image_folder: the images are files already";
  const int64_t n = limit > 0 ? std::min(limit, set.size()) : set.size();
  const int64_t c = set.channels(), h = set.height(), w = set.width();
  AN_CHECK(c == 1 || c == 3) << "write_image_folder: " << c << " channels (PNG takes 1 or 3)";
  std::vector<uint8_t> pixels(static_cast<size_t>(h * w * c));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* planes = set.images.data<uint8_t>() + i * c * h * w;
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t ch = 0; ch < c; ++ch) pixels[p * c + ch] = planes[ch * h * w + p];
    const fs::path folder = dir / zero_padded(set.labels.data<int64_t>()[i], num_classes - 1);
    std::error_code ec;
    fs::create_directories(folder, ec);
    AN_CHECK(!ec) << folder.string() << ": cannot create the folder (" << ec.message() << ")";
    write_png(folder / (zero_padded(i, set.size() - 1) + ".png"), pixels.data(), h, w,
              static_cast<int>(c));
  }
  return n;
}

}  // namespace

int64_t write_image_folder(const ImageData& data, const fs::path& dir, int64_t limit) {
  int64_t written = write_split(data.train, data.num_classes, dir / "train", limit);
  if (data.test.size() > 0) written += write_split(data.test, data.num_classes, dir / "val", limit);
  return written;
}

}  // namespace autonet::data
