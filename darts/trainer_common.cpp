// Shared pieces of the DARTS image tasks: config checks, image checks and subsets, genotype files.
#include "darts/trainer_common.h"

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
