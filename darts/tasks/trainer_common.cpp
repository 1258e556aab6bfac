// Shared pieces of the DARTS image tasks: config checks, image checks and subsets, genotype files.
#include "darts/tasks/trainer_common.h"

#include "runtime/error.h"

namespace autonet::darts {

void check_learning_rate_min(double learning_rate_min, double learning_rate) {
  AN_CHECK(learning_rate_min <= learning_rate)
      << "--learning-rate-min must be in [0, learning_rate = " << learning_rate << "], got "
      << learning_rate_min;
}

data::ImageSet first_images(const data::ImageSet& set, int64_t n, const char* flag) {
  AN_CHECK(n <= set.size()) << flag << " " << n << " asks for more images than the "
                            << set.size() << " there are (0 uses all of them)";
  if (n <= 0 || n == set.size()) return set;
  // Image files stay listed in full; the labels say how many are used.
  return {set.files ? Tensor() : set.images.slice(0, 0, n), set.labels.slice(0, 0, n), set.files};
}

data::FolderOptions folder_options(const nlohmann::json& config) {
  data::FolderOptions o;
  o.image_size = config.value("image_size", o.image_size);
  o.skip_bad_images = config.value("skip_bad_images", o.skip_bad_images);
  o.compute_mean_std = config.value("compute_mean_std", o.compute_mean_std);
  return o;
}

nlohmann::json image_folder_info(const data::ImageData& data) {
  if (data.class_names.empty()) return nlohmann::json::object();
  return {{"class_names", data.class_names},
          {"mean", data.mean},
          {"std", data.std},
          {"skipped_images", data.skipped_images.size()}};
}

void log_skipped_images(const run::RunFolder& run, const data::ImageData& data) {
  if (data.skipped_images.empty()) return;
  run.append_log({{"kind", "skipped_images"},
                  {"count", data.skipped_images.size()},
                  {"files", data.skipped_images}});
}

void check_image_size(const data::ImageSet& set, const std::string& dataset, bool imagenet_stem) {
  // Two reduction cells, and before them the ImageNet stem's three stride-2 convs.
  const int64_t halvings = imagenet_stem ? 5 : 2, multiple = int64_t{1} << halvings;
  AN_CHECK(set.height() % multiple == 0 && set.width() % multiple == 0)
      << "the network halves the image " << halvings << " times"
      << (imagenet_stem ? " (the ImageNet stem 3, the reduction cells 2)" : "")
      << " and FactorizedReduce needs even sizes, so height and width must be multiples of "
      << multiple << "; " << dataset << " has " << set.height() << "×" << set.width()
      << " images";
}

void write_genotype_files(const run::RunFolder& folder, const CnnGenotype& genotype) {
  folder.write_file("genotype.txt", to_text(genotype) + "\n");
  folder.write_file("genotype.json", to_json(genotype).dump(2) + "\n");
  for (const char* which : {"normal", "reduce"})
    write_drawing(to_dot(genotype, which), folder.path(which).string());
}

}  // namespace autonet::darts
