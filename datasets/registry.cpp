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

// The readers of one kind of data set by name, in the order --help and errors list them.
template <class Reader>
struct Readers {
  std::string kind;  // "image data set", "text corpus"
  std::vector<std::pair<std::string, Reader>> rows;

  void add(const std::string& name, Reader read) {
    AN_CHECK(name == canonical_dataset_name(name))
        << kind << " '" << name << "': register it as '" << canonical_dataset_name(name)
        << "', the form names are looked up in";
    AN_CHECK(!find(name)) << kind << " '" << name << "' exists already";
    rows.emplace_back(name, std::move(read));
  }
  const Reader* find(const std::string& name) const {
    for (const auto& [n, read] : rows)
      if (n == name) return &read;
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& row : rows) out.push_back(row.first);
    return out;
  }
  const Reader& at(const std::string& name) const {
    if (const Reader* read = find(canonical_dataset_name(name))) return *read;
    std::string known;
    for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
    AN_THROW() << "unknown " << kind << " '" << name << "' (known: " << known << ")";
  }
};

Readers<ImageDatasetReader>& image_readers() {
  using Path = std::filesystem::path;
  static Readers<ImageDatasetReader> r{
      "image data set",
      {{"fashion-mnist",
        [](const Path& dir, const FolderOptions&) {
          return read_idx_dataset(
              dir.empty() ? Path(kFashionFolder) : dir, "fashion-mnist",
              "Fashion-MNIST comes with Debian's dataset-fashion-mnist package (`sudo apt-get "
              "install dataset-fashion-mnist`, as scripts/install-deps does), or download the "
              "four IDX files from https://github.com/zalandoresearch/fashion-mnist and pass "
              "their folder.");
        }},
       {"mnist",
        [](const Path& dir, const FolderOptions&) {
          return read_idx_dataset(dir, "mnist",
                                  "Download the four MNIST IDX files (train-images-idx3-ubyte.gz, "
                                  "...) from http://yann.lecun.com/exdb/mnist/ and pass their "
                                  "folder.");
        }},
       {"cifar10", [](const Path& dir, const FolderOptions&) { return read_cifar10(dir); }},
       {"cifar100", [](const Path& dir, const FolderOptions&) { return read_cifar100(dir); }},
       {"folder", read_image_folder}}};
  return r;
}

Readers<TextCorpusReader>& text_readers() {
  static Readers<TextCorpusReader> r{
      "text corpus",
      {{"kjv", load_kjv},
       {"ptb", [](const std::filesystem::path& dir) { return read_ptb(dir, "ptb"); }},
       {"wt2", read_wikitext2}}};
  return r;
}

}  // namespace

void register_image_dataset(const std::string& name, ImageDatasetReader read) {
  image_readers().add(name, std::move(read));
}
void register_text_corpus(const std::string& name, TextCorpusReader read) {
  text_readers().add(name, std::move(read));
}

std::vector<std::string> image_dataset_names() { return image_readers().names(); }
std::vector<std::string> text_corpus_names() { return text_readers().names(); }

ImageData open_image_dataset(const std::string& name, const std::filesystem::path& dir,
                             const FolderOptions& folder) {
  const ImageDatasetReader& read = image_readers().at(name);
  const FolderOptions defaults;
  AN_CHECK(canonical_dataset_name(name) == "folder" ||
           (folder.image_size == defaults.image_size &&
            folder.skip_bad_images == defaults.skip_bad_images &&
            folder.compute_mean_std == defaults.compute_mean_std))
      << "--image-size, --skip-bad-images and --compute-mean-std apply to --dataset folder only, "
      << "not to " << name;
  return read(dir, folder);
}

TextCorpus open_text_corpus(const std::string& name, const std::filesystem::path& dir) {
  return text_readers().at(name)(dir);
}

}  // namespace autonet::data
