// `autonet train`: train a genotype from scratch into a run folder (darts/train_trainer.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/run_folder.h"
#include "darts/train_trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {

using darts::TrainRunConfig;

void add_train_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a genotype from scratch (DARTS's final training) into a run folder, evaluating on "
      "the test set (or with --valid-portion a held-out part of the training images) after "
      "every epoch");
  auto run = std::make_shared<RunFlags>();
  auto flags = std::make_shared<ConfigFlags<TrainRunConfig>>(cmd);
  ConfigFlags<TrainRunConfig>& f = *flags;
  add_run_flags(cmd, *run, "train");

  const std::string data = "Data", net = "Network", opt = "Optimisation", misc = "Run";
  f.option("--genotype", &TrainRunConfig::genotype,
           "DARTS_V1, DARTS_V2, DARTS, a genotype.txt/.json file (e.g. a search run's), or the "
           "genotype text",
           net);
  add_image_data_flags(f, data);
  f.option("--subset", &TrainRunConfig::subset,
           "use only the first N training images (0: all), for quick runs", data);
  f.option("--test-subset", &TrainRunConfig::test_subset,
           "evaluate on the first N test images (0: all)", data);
  f.option("--valid-portion", &TrainRunConfig::valid_portion,
           "hold out this part of the training images (drawn from the seed) and evaluate on it "
           "instead of the test set, which is then never read (0: evaluate on the test set)",
           data);
  f.flag("--cutout,!--no-cutout", &TrainRunConfig::cutout, "cutout augmentation", data);
  f.option("--cutout-length", &TrainRunConfig::cutout_length, "cutout side", data);
  f.option("--channels", &TrainRunConfig::channels, "C: channels of the first cells", net);
  f.option("--layers", &TrainRunConfig::layers, "L: cells (at least 3)", net);
  f.option("--network", &TrainRunConfig::network,
           "cifar (NetworkCIFAR), imagenet (NetworkImageNet: two stride-2 stems, the ImageNet "
           "auxiliary head), or auto: imagenet for images of 128 pixels and more",
           net);
  f.option("--stem-multiplier", &TrainRunConfig::stem_multiplier,
           "the stem outputs stem_multiplier · C channels", net);
  f.flag("--auxiliary,!--no-auxiliary", &TrainRunConfig::auxiliary,
         "auxiliary head after cell ⌊2L/3⌋ (needs 32×32 images; off by itself for other sizes "
         "unless asked for)",
         net);
  f.option("--auxiliary-weight", &TrainRunConfig::auxiliary_weight,
           "weight of the auxiliary loss", net);
  f.option("--drop-path-prob", &TrainRunConfig::drop_path_prob,
           "drop-path probability, ramped linearly from 0 over the epochs", net);
  f.option("--epochs", &TrainRunConfig::epochs, "epochs", opt);
  f.option("--batch-size", &TrainRunConfig::batch_size, "batch size", opt);
  f.option("--learning-rate", &TrainRunConfig::learning_rate, "SGD learning rate", opt);
  f.option("--learning-rate-min", &TrainRunConfig::learning_rate_min,
           "floor of the cosine schedule", opt);
  f.option("--momentum", &TrainRunConfig::momentum, "SGD momentum", opt);
  f.option("--weight-decay", &TrainRunConfig::weight_decay, "SGD weight decay (L2)", opt);
  f.option("--grad-clip", &TrainRunConfig::grad_clip, "clip the gradient norm to this", opt);
  f.option("--seed", &TrainRunConfig::seed, "seed of weights, data order, augmentation, drop path",
           misc);
  f.option("--device", &TrainRunConfig::device,
           "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N", misc);
  f.option("--workers", &TrainRunConfig::workers, "data loader threads per loader", misc);
  f.option("--log-every", &TrainRunConfig::log_every,
           "a step summary in log.jsonl every N steps (0: none)", misc);

  cmd->callback([run, flags] {
    darts::RunOptions options;
    options.progress = !run->quiet;
    darts::TrainOutcome out;
    if (!run->resume_dir.empty()) {
      const ImageResume resume = open_image_resume(
          *run, flags->given(), flags->given("--device") ? flags->cli().device : std::string(),
          "train");
      options.device = resume.device;
      out = darts::resume_training(run->resume_dir, resume.images, options);
    } else {
      TrainRunConfig config = flags->cli();
      bool auxiliary_asked = flags->given("--auxiliary");
      if (!run->config_file.empty()) {
        const nlohmann::json file = darts::read_json_file(run->config_file);
        auxiliary_asked = auxiliary_asked || (file.is_object() && file.contains("auxiliary"));
        config = flags->apply(darts::config_from_json<TrainRunConfig>(file, "train"));
      }
      config.validate();
      const data::ImageData images = data::open_image_dataset(
          config.dataset, config.data_dir, darts::folder_options(nlohmann::json(config)));
      print_skipped_images(images);
      // The head is the paper's recipe for 32×32 images; elsewhere it is off unless asked for
      // (then the trainer explains why it cannot run).
      const bool imagenet = darts::uses_imagenet_network(config, images.train.height());
      if (config.auxiliary && !auxiliary_asked &&
          !darts::auxiliary_head_fits(images.train.height(), imagenet)) {
        config.auxiliary = false;
        fmt::print("note: no auxiliary head for {}×{} images (it needs {})\n",
                   images.train.height(), images.train.width(), imagenet ? "224×224" : "32×32");
      }
      const std::string dir = run->out.empty() ? default_run_dir("train") : run->out;
      fmt::print("train: {} on {}, C={} L={}, {} epochs, batch {} → {}\n", config.genotype,
                 images.name, config.channels, config.layers, config.epochs, config.batch_size,
                 dir);
      std::fflush(stdout);
      out = darts::run_training(config, images, dir, options);
    }
    const std::filesystem::path dir = std::filesystem::absolute(out.run_dir);
    if (report_unfinished(out.finished, out.epochs_done, "train", dir)) return;
    fmt::print("{} accuracy after the last epoch: {:.2f}%\n", out.eval_set,
               100 * (out.eval_set == "valid" ? out.valid_accuracy : out.test_accuracy));
    fmt::print("run folder: {}\nreport: {}\n", dir.string(), (dir / "report.html").string());
  });
}

}  // namespace autonet::apps
