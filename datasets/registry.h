// Data sets by name, as the command line names them (--dataset NAME [--data-dir DIR]).
//   images: fashion-mnist (default folder /usr/share/datasets/fashion-mnist, Debian's
//           dataset-fashion-mnist), mnist, cifar10, cifar100 (DIR required), folder (DIR
//           required: an image folder, datasets/image_folder.h, opened with `folder`)
//   text:   kjv (prepared from Debian's bible-kjv; DIR optional, used as a cache of the prepared
//           files), ptb (DIR required), wt2 = WikiText-2 (DIR required: wiki.*.tokens)
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "datasets/image_dataset.h"
#include "datasets/image_folder.h"
#include "datasets/text_corpus.h"

namespace autonet::data {

ImageData open_image_dataset(const std::string& name, const std::filesystem::path& dir = {},
                             const FolderOptions& folder = {});
TextCorpus open_text_corpus(const std::string& name, const std::filesystem::path& dir = {});

// How a data set is read from its folder (empty when --data-dir was not given: the set's default
// folder, or an error saying what to pass). Only `folder` reads the image-folder options.
using ImageDatasetReader =
    std::function<ImageData(const std::filesystem::path& dir, const FolderOptions& folder)>;
using TextCorpusReader = std::function<TextCorpus(const std::filesystem::path& dir)>;
// Adds a data set to the names above, after the built-in ones; `name` in its canonical form.
void register_image_dataset(const std::string& name, ImageDatasetReader read);
void register_text_corpus(const std::string& name, TextCorpusReader read);

std::vector<std::string> image_dataset_names();
// The name a data set is known by: lower case, aliases resolved ("WikiText-2" → "wt2").
std::string canonical_dataset_name(std::string name);
std::vector<std::string> text_corpus_names();

}  // namespace autonet::data
