// `autonet search`: DARTS architecture search into a run folder (darts/search_trainer.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/run_folder.h"
#include "darts/search_trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {

using darts::SearchRunConfig;

void add_search_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "search",
      "DARTS architecture search (first order; --unrolled for second order) into a run folder: "
      "config.json, log.jsonl, checkpoints, genotype, cell drawings, report.html");
  auto run = std::make_shared<RunFlags>();
  auto flags = std::make_shared<ConfigFlags<SearchRunConfig>>(cmd);
  ConfigFlags<SearchRunConfig>& f = *flags;
  add_run_flags(cmd, *run, "search");

  const std::string data = "Data", net = "Network", weights = "Weights", arch = "Architecture",
                    misc = "Run";
  add_image_data_flags(f, data);
  f.option("--subset", &SearchRunConfig::subset,
           "use only the first N training images (0: all), for quick runs", data);
  f.option("--train-portion", &SearchRunConfig::train_portion,
           "share of the training images that train the weights; the rest train α", data);
  f.flag("--cutout,!--no-cutout", &SearchRunConfig::cutout, "cutout augmentation (default off)",
         data);
  f.option("--cutout-length", &SearchRunConfig::cutout_length, "cutout side", data);
  f.option("--channels", &SearchRunConfig::channels, "C: channels of the first cells", net);
  f.option("--layers", &SearchRunConfig::layers, "L: cells (at least 3)", net);
  f.option("--nodes", &SearchRunConfig::nodes, "intermediate nodes per cell", net);
  f.option("--multiplier", &SearchRunConfig::multiplier,
           "last nodes concatenated into a cell's output", net);
  f.option("--stem-multiplier", &SearchRunConfig::stem_multiplier,
           "the stem outputs stem_multiplier · C channels", net);
  f.option("--epochs", &SearchRunConfig::epochs, "epochs", weights);
  f.option("--batch-size", &SearchRunConfig::batch_size,
           "batch size of the weight and of the α batches", weights);
  f.option("--learning-rate", &SearchRunConfig::learning_rate, "SGD learning rate of the weights",
           weights);
  f.option("--learning-rate-min", &SearchRunConfig::learning_rate_min,
           "floor of the cosine schedule", weights);
  f.option("--momentum", &SearchRunConfig::momentum, "SGD momentum", weights);
  f.option("--weight-decay", &SearchRunConfig::weight_decay, "SGD weight decay (L2)", weights);
  f.option("--grad-clip", &SearchRunConfig::grad_clip, "clip the weights' gradient norm to this",
           weights);
  f.flag("--unrolled,!--first-order", &SearchRunConfig::unrolled,
         "second-order (unrolled) DARTS; --first-order (the default) for ξ = 0", arch);
  f.option("--arch-learning-rate", &SearchRunConfig::arch_learning_rate, "Adam learning rate of α",
           arch);
  f.option("--arch-beta1", &SearchRunConfig::arch_beta1, "Adam β1 of α", arch);
  f.option("--arch-beta2", &SearchRunConfig::arch_beta2, "Adam β2 of α", arch);
  f.option("--arch-weight-decay", &SearchRunConfig::arch_weight_decay,
           "Adam weight decay (L2) of α", arch);
  f.option("--seed", &SearchRunConfig::seed, "seed of weights, α, data order and augmentation",
           misc);
  f.option("--device", &SearchRunConfig::device,
           "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N", misc);
  f.option("--workers", &SearchRunConfig::workers, "data loader threads per loader", misc);
  f.option("--log-every", &SearchRunConfig::log_every,
           "a step summary in log.jsonl every N steps (0: none)", misc);
  f.flag("--cuda-graph,!--no-cuda-graph", &SearchRunConfig::cuda_graph,
         "on a GPU, replay the first-order step's two passes from CUDA graphs (the default: same "
         "values bit for bit, 2.7x the images/s on an H200); --no-cuda-graph for eager steps; "
         "ignored on CPU and with --unrolled",
         misc);

  cmd->callback([run, flags] {
    darts::RunOptions options;
    options.progress = !run->quiet;
    darts::SearchOutcome out;
    if (!run->resume_dir.empty()) {
      const ImageResume resume = open_image_resume(
          *run, flags->given(), flags->given("--device") ? flags->cli().device : std::string(),
          "search");
      options.device = resume.device;
      out = darts::resume_search(run->resume_dir, resume.images, options);
    } else {
      SearchRunConfig config = flags->cli();
      if (!run->config_file.empty())
        config = flags->apply(darts::config_from_json<SearchRunConfig>(
            darts::read_json_file(run->config_file), "search"));
      config.validate();
      const std::string dir = run->out.empty() ? default_run_dir("search") : run->out;
      const data::ImageData images = data::open_image_dataset(
          config.dataset, config.data_dir, darts::folder_options(nlohmann::json(config)));
      print_skipped_images(images);
      fmt::print("search: {} ({} order), C={} L={}, {} epochs, batch {} → {}\n", images.name,
                 config.unrolled ? "second" : "first", config.channels, config.layers,
                 config.epochs, config.batch_size, dir);
      std::fflush(stdout);
      out = darts::run_search(config, images, dir, options);
    }
    const std::filesystem::path dir = std::filesystem::absolute(out.run_dir);
    if (report_unfinished(out.finished, out.epochs_done, "search", dir)) return;
    fmt::print("genotype: {}\n", darts::to_text(out.genotype));
    fmt::print("genotype at the start of the last epoch (the official script's): {}\n",
               darts::to_text(out.genotype_last_epoch_start));
    fmt::print("best validation accuracy: {:.2f}%\n", 100 * out.valid_accuracy);
    fmt::print("run folder: {}\nreport: {}\n", dir.string(), (dir / "report.html").string());
  });
}

}  // namespace autonet::apps
