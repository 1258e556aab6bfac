// `autonet train`: train a genotype from scratch into a run folder (darts/tasks/train_trainer.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/tasks/train_trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {

namespace {

using darts::TrainRunConfig;
using TrainCommand = RunCommand<TrainRunConfig>;

// A new training from the resolved config settled on its images (nullopt: --print-config only
// printed it).
std::optional<darts::TrainOutcome> start_training(const TrainCommand& c,
                                                  const darts::RunOptions& options) {
  const auto resolved = c.config.resolve(c.run.config_file);
  TrainRunConfig config = resolved.config;
  config.validate();
  const auto open_images = [&config] {
    return data::open_image_dataset(config.dataset, config.data_dir,
                                    darts::folder_options(nlohmann::json(config)));
  };
  // --network auto picks the network, and with it the recipe, by the image size: read the
  // images first unless --image-size tells it (or only the config is printed).
  std::optional<data::ImageData> images;
  int64_t height = darts::configured_image_height(config);
  if (height == 0 && (!c.run.print_config || config.network == "auto")) {
    images = open_images();
    height = images->train.height();
  }
  const std::vector<std::string> notes =
      darts::settle_for_images(config, resolved.keys_set, height);
  config.validate();
  if (print_config(c.run, config)) return std::nullopt;
  if (!images) images = open_images();
  print_skipped_images(*images);
  for (const std::string& note : notes) fmt::print("note: {}\n", note);
  const std::string dir = c.run.run_dir();
  fmt::print("train: {} on {}, C={} L={}, {} epochs, batch {} → {}\n", config.genotype,
             images->name, config.channels, config.layers, config.epochs, config.batch_size, dir);
  std::fflush(stdout);
  return darts::run_training(config, *images, dir, options);
}

// What a finished training prints: the evaluated set's accuracy, then its folder.
void report_training(const darts::TrainOutcome& out, const std::filesystem::path& dir) {
  fmt::print("{} accuracy after the last epoch: {:.2f}%\n", out.eval_set,
             100 * (out.eval_set == "valid" ? out.valid_accuracy : out.test_accuracy));
  print_run_folder(dir);
}

}  // namespace

void add_train_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a genotype from scratch (DARTS's final training) into a run folder, evaluating on "
      "the test set (or with --valid-portion a held-out part of the training images) after "
      "every epoch");
  auto c = std::make_shared<TrainCommand>(cmd, "train", TrainRunConfig{});
  cmd->callback([c] {
    c->execute({"train"}, resume_on_stored_images(darts::resume_training), start_training,
               report_training);
  });
}

}  // namespace autonet::apps
