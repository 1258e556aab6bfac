// Shared pieces of the DARTS image tasks: flag checks, image checks and subsets, genotype files.
#include "darts/trainer_common.h"

#include "runtime/error.h"

namespace autonet::darts {

void check_sgd_flags(int64_t epochs, int64_t batch_size, double learning_rate,
                     double learning_rate_min, double momentum, double weight_decay,
                     double grad_clip) {
  AN_CHECK(epochs >= 1) << "--epochs must be at least 1, got " << epochs;
  AN_CHECK(batch_size >= 1) << "--batch-size must be at least 1, got " << batch_size;
  AN_CHECK(learning_rate > 0) << "--learning-rate must be positive, got " << learning_rate;
  AN_CHECK(learning_rate_min >= 0 && learning_rate_min <= learning_rate)
      << "--learning-rate-min must be in [0, learning_rate = " << learning_rate << "], got "
      << learning_rate_min;
  AN_CHECK(momentum >= 0 && momentum < 1) << "--momentum must be in [0, 1), got " << momentum;
  AN_CHECK(weight_decay >= 0) << "--weight-decay must be non-negative, got " << weight_decay;
  AN_CHECK(grad_clip > 0) << "--grad-clip must be positive, got " << grad_clip;
}

data::ImageSet first_images(const data::ImageSet& set, int64_t n) {
  if (n <= 0 || n >= set.size()) return set;
  return {set.images.slice(0, 0, n), set.labels.slice(0, 0, n)};
}

void check_image_size(const data::ImageSet& set, const std::string& dataset) {
  AN_CHECK(set.height() % 4 == 0 && set.width() % 4 == 0)
      << "the network halves the image twice (FactorizedReduce needs even sizes), so height and "
         "width must be multiples of 4; "
      << dataset << " has " << set.height() << "×" << set.width() << " images";
}

void write_genotype_files(const run::RunFolder& folder, const CnnGenotype& genotype) {
  folder.write_file("genotype.txt", to_text(genotype) + "\n");
  folder.write_file("genotype.json", to_json(genotype).dump(2) + "\n");
  for (const char* which : {"normal", "reduce"})
    write_drawing(to_dot(genotype, which), folder.path(which).string());
}

}  // namespace autonet::darts
