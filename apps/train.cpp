// `autonet train`: train a genotype from scratch into a run folder (darts/tasks/train_trainer.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/tasks/train_trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {

using darts::TrainRunConfig;

void add_train_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a genotype from scratch (DARTS's final training) into a run folder, evaluating on "
      "the test set (or with --valid-portion a held-out part of the training images) after "
      "every epoch");
  auto c = std::make_shared<RunCommand<TrainRunConfig>>(cmd, "train", TrainRunConfig{});

  cmd->callback([c] {
    darts::RunOptions options = c->run.options();
    darts::TrainOutcome out;
    if (!c->run.resume_dir.empty()) {
      const nlohmann::json stored = c->resume(options, {"train"});
      if (print_config(c->run, stored)) return;
      const data::ImageData images = open_run_images(stored);
      out = darts::resume_training(c->run.resume_dir, images, options);
    } else {
      const auto resolved = c->config.resolve(c->run.config_file);
      TrainRunConfig config = resolved.config;
      config.validate();
      if (print_config(c->run, config)) return;
      const data::ImageData images = open_run_images(nlohmann::json(config));
      // The head is the paper's recipe for 32×32 images; elsewhere it is off unless asked for
      // (then the trainer explains why it cannot run).
      const bool imagenet = darts::uses_imagenet_network(config, images.train.height());
      if (config.auxiliary && !resolved.set("auxiliary") &&
          !darts::auxiliary_head_fits(images.train.height(), imagenet)) {
        config.auxiliary = false;
        fmt::print("note: no auxiliary head for {}×{} images (it needs {})\n",
                   images.train.height(), images.train.width(), imagenet ? "224×224" : "32×32");
      }
      const std::string dir = c->run.run_dir();
      fmt::print("train: {} on {}, C={} L={}, {} epochs, batch {} → {}\n", config.genotype,
                 images.name, config.channels, config.layers, config.epochs, config.batch_size,
                 dir);
      std::fflush(stdout);
      out = darts::run_training(config, images, dir, options);
    }
    const std::filesystem::path dir = std::filesystem::absolute(out.run_dir);
    if (report_unfinished(out.finished, out.epochs_done, c->run, dir)) return;
    fmt::print("{} accuracy after the last epoch: {:.2f}%\n", out.eval_set,
               100 * (out.eval_set == "valid" ? out.valid_accuracy : out.test_accuracy));
    print_run_folder(dir);
  });
}

}  // namespace autonet::apps
