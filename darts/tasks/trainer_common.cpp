// Shared pieces of the DARTS image tasks: config checks, image checks and subsets, genotype files.
#include "darts/tasks/trainer_common.h"

#include <fmt/core.h>

#include "darts/cnn/cell_layout.h"
#include "run/common.h"
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

nlohmann::json image_run_info(const std::string& kind, Device device, const data::ImageData& data,
                              const data::ImageSet& train_set, int64_t train_images,
                              int64_t steps_per_epoch, int64_t parameters) {
  nlohmann::json info = {
      {"kind", kind},
      {"device", device.str()},
      {"data", data.name},
      {"image_shape", {train_set.channels(), train_set.height(), train_set.width()}},
      {"classes", data.num_classes},
      {"train_images", train_images},
      {"steps_per_epoch", steps_per_epoch},
      {"parameters", parameters},
      {"param_size", format_param_size_mb(parameters)}};
  info.update(image_folder_info(data));
  return info;
}

void check_train_images(const nlohmann::json& state, int64_t train_images) {
  AN_CHECK(state.value("train_images", int64_t{-1}) == train_images)
      << "the checkpoint was trained on " << state.value("train_images", int64_t{-1})
      << " images, the data set now gives " << train_images;
}

ImageEpochFigures train_and_evaluate(run::ImageEpochs& epochs, Module& net, int64_t epoch,
                                     double lr, const ImagePass& train, const run::ImageStep& step,
                                     const ImagePass& eval, const std::string& eval_set) {
  ImageEpochFigures f;
  net.train();
  data::Loader train_loader(train.set, train.indices, train.loader, static_cast<uint64_t>(epoch));
  f.train = epochs.train(train_loader, lr, step);
  net.eval();
  data::Loader eval_loader(eval.set, eval.indices, eval.loader, static_cast<uint64_t>(epoch));
  f.eval = epochs.evaluate([&net](const Variable& x) { return net.forward(x); }, eval_loader,
                           eval_set);
  net.train();
  return f;
}

run::EpochResult image_epoch_result(const run::ImageEpochs& epochs, const ImageEpochFigures& f,
                                    const std::string& eval_set, double lr,
                                    int64_t steps_per_epoch, const run::Best& best) {
  const std::string& e = eval_set;
  return {{{"steps_per_epoch", steps_per_epoch},
           {"lr", lr},
           {"train_loss", f.train.loss()},
           {"train_acc", f.train.accuracy()},
           {e + "_loss", f.eval.loss},
           {e + "_acc", f.eval.accuracy},
           {e + "_acc_best", best.value},
           {"best_epoch", best.epoch},
           {"images_per_s", run::rounded(epochs.images_per_second(f.train), 1)}},
          fmt::format("train loss {:.4f} acc {:.1f}%, {} loss {:.4f} acc {:.1f}%", f.train.loss(),
                      100 * f.train.accuracy(), e, f.eval.loss, 100 * f.eval.accuracy)};
}

void write_genotype_files(const run::RunFolder& folder, const CnnGenotype& genotype) {
  folder.write_file("genotype.txt", to_text(genotype) + "\n");
  folder.write_file("genotype.json", to_json(genotype).dump(2) + "\n");
  for (const char* which : {"normal", "reduce"})
    write_drawing(to_dot(genotype, which), folder.path(which).string());
}

}  // namespace autonet::darts
