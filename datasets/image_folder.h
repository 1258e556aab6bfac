// Image folders, the layout of torchvision's ImageFolder: one subfolder per class holding its
// JPEG and PNG files (.jpg .jpeg .png, any case; searched recursively; other files are ignored).
//   DIR/cat/0001.jpg, DIR/dog/0001.png, ...        everything is training data (no test set)
//   DIR/train/<class>/..., DIR/val/<class>/...     when both exist: train and test sets
// Labels are the positions of the class folders sorted by name (byte order), as ImageFolder;
// val's classes are matched to train's by name. Files are listed in sorted path order; the
// training images then take a fixed pseudo-random order (the same for every run), as CIFAR's
// files have, so that --subset N and the search's split (the first part trains the weights)
// hold every class. The val images keep the listing's order.
//
// Two ways to hold the images (FolderOptions::image_size):
//  - 0: decoded once when the data set is opened and kept in memory at their own size, which
//    must be the same for all (small images; DARTS's CIFAR transforms then apply);
//  - S > 0: kept as files and decoded by the loader threads for every batch, with the official
//    ImageNet transforms to S×S (datasets/photo_transform.h): ImageNet scale.
// Every image is RGB (grey and CMYK converted, alpha dropped: datasets/image_codec.h).
//
// Bad images: a file that cannot be read or decoded is an error naming it, when the data set is
// opened (image_size 0) or when the loader reaches it (S > 0). With skip_bad_images every image
// is decoded once when opening, the bad ones are left out and listed in
// ImageData::skipped_images.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/image_dataset.h"

namespace autonet::data {

struct FolderOptions {
  int64_t image_size = 0;        // 0: in memory at the images' own size; S: files, S×S crops
  bool skip_bad_images = false;  // leave unreadable images out instead of stopping
  bool compute_mean_std = false; // normalise with the training images' own statistics (else
                                 // ImageNet's: mean 0.485/0.456/0.406, std 0.229/0.224/0.225)
};

// The files of one folder of class folders: paths and labels in data set order.
struct FolderListing {
  std::vector<std::string> classes;  // sorted
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};
// Lists `dir`. With `classes` given, its class folders must be among them and take their labels
// from them (a val folder against train's classes). Errors name the folder: missing, no class
// folders, a class folder without JPEG/PNG files, a class unknown to the training set.
FolderListing list_image_folder(const std::filesystem::path& dir,
                                const std::vector<std::string>* classes = nullptr);

ImageData read_image_folder(const std::filesystem::path& dir, const FolderOptions& options);

// Writes an in-memory data set as an image folder of PNG files: DIR/train/<class>/<n>.png and
// DIR/val/<class>/<n>.png (the test set), classes named by their zero-padded label, n the
// zero-padded position in the data set, so reading the folder back gives the same labels and
// order. At most `limit` images per split (0: all). Returns the number of files written.
int64_t write_image_folder(const ImageData& data, const std::filesystem::path& dir,
                           int64_t limit = 0);

}  // namespace autonet::data
