#include "datasets/registry.h"

#include "datasets/cifar.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/kjv.h"

namespace autonet::data {

std::string canonical_dataset_name(std::string name) {
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '_') c = '-';
  }
  if (name == "fashion" || name == "fashionmnist" || name == "fmnist") return "fashion-mnist";
  if (name == "cifar-10") return "cifar10";
  if (name == "cifar-100") return "cifar100";
  if (name == "bible" || name == "bible-kjv") return "kjv";
  if (name == "wikitext-2" || name == "wikitext2") return "wt2";
  return name;
}

namespace {

constexpr const char* kFashionFolder = "/usr/share/datasets/fashion-mnist";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<std::string> image_dataset_names() {
  return {"fashion-mnist", "mnist", "cifar10", "cifar100", "folder"};
}
std::vector<std::string> text_corpus_names() { return {"kjv", "ptb", "wt2"}; }

ImageData open_image_dataset(const std::string& name, const std::filesystem::path& dir,
                             const FolderOptions& folder) {
  const std::string key = canonical_dataset_name(name);
  const FolderOptions defaults;
  AN_CHECK(key == "folder" || (folder.image_size == defaults.image_size &&
                               folder.skip_bad_images == defaults.skip_bad_images &&
                               folder.compute_mean_std == defaults.compute_mean_std))
      << "--image-size, --skip-bad-images and --compute-mean-std apply to --dataset folder only, "
      << "not to " << name;
  if (key == "fashion-mnist")
    return read_idx_dataset(
        dir.empty() ? std::filesystem::path(kFashionFolder) : dir, key,
        "Fashion-MNIST comes with Debian's dataset-fashion-mnist package (`sudo apt-get install "
        "dataset-fashion-mnist`, as scripts/install-deps does), or download the four IDX files "
        "from https://github.com/zalandoresearch/fashion-mnist and pass their folder.");
  if (key == "mnist")
    return read_idx_dataset(dir, key,
                            "Download the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) "
                            "from http://yann.lecun.com/exdb/mnist/ and pass their folder.");
  if (key == "cifar10") return read_cifar10(dir);
  if (key == "cifar100") return read_cifar100(dir);
  if (key == "folder") return read_image_folder(dir, folder);
  AN_THROW() << "unknown image data set '" << name << "' (known: "
             << join(image_dataset_names()) << ")";
}

TextCorpus open_text_corpus(const std::string& name, const std::filesystem::path& dir) {
  const std::string key = canonical_dataset_name(name);
  if (key == "kjv") return load_kjv(dir);
  if (key == "ptb") return read_ptb(dir, key);
  if (key == "wt2") return read_wikitext2(dir);
  AN_THROW() << "unknown text corpus '" << name << "' (known: " << join(text_corpus_names())
             << ")";
}

}  // namespace autonet::data
