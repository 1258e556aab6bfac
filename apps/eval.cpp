// `autonet eval RUN_DIR`: top-1, top-5 and loss of a CNN training run's saved network on a data
// set (darts/tasks/evaluation.h), as the official test.py / test_imagenet.py.
#include <fmt/core.h>

#include "apps/commands.h"
#include "apps/config_flags.h"
#include "apps/run_flags.h"
#include "darts/tasks/config_table.h"
#include "darts/tasks/evaluation.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/registry.h"
#include "run/common.h"
#include "run/run_folder.h"
#include "runtime/device.h"

namespace autonet::apps {

namespace {

// eval's settings, in the run commands' style: a table row per flag with its help, bounds and
// true default (darts/tasks/config_table.h, apps/config_flags.h).
struct EvalConfig {
  std::string dataset, data_dir;  // empty: the run's
  std::string split = "test";
  std::string device = "auto";
  int64_t batch_size = 0;  // 0: the run's
  int64_t workers = 2;

  static const darts::ConfigTable<EvalConfig>& table() {
    using C = EvalConfig;
    using F = darts::ConfigField<C>;
    static const darts::ConfigTable<C> t({
        {"Data",
         {F{"dataset", &C::dataset,
            "data set to evaluate on (empty: the run's); an image folder is read with the run's "
            "--image-size and other folder options"},
          F{"data_dir", &C::data_dir, "its folder (empty: the run's)"},
          F{"split", &C::split, "test or train"}}},
        {"Run",
         {F{"device", &C::device,
            "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N"},
          F{"batch_size", &C::batch_size, "batch size (0: the run's)", darts::non_negative()},
          F{"workers", &C::workers, "data loader threads", darts::closed(0, 64)}}},
    });
    return t;
  }
};

}  // namespace

void add_eval_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a CNN training run's last checkpoint: top-1, top-5 and loss on the test "
      "images (or another split or data set with the run's classes and image shape)");
  struct Flags {
    explicit Flags(CLI::App* cmd) : config(cmd, EvalConfig{}, darts::Scope::any) {}
    std::string run_dir;
    ConfigFlags<EvalConfig> config;
  };
  auto flags = std::make_shared<Flags>(cmd);
  cmd->add_option("run_dir", flags->run_dir, "the run folder (autonet train --out)")->required();
  cmd->callback([flags] {
    const EvalConfig c = flags->config.resolve("").config;
    darts::check_fields(c);
    const std::string& run_dir = flags->run_dir;
    const nlohmann::json stored = run::RunFolder::open(run_dir).config();
    // Another data set keeps the run's image-folder options (--image-size, ...).
    const std::string dataset = c.dataset.empty() ? stored.value("dataset", "") : c.dataset;
    const std::string data_dir =
        c.dataset.empty() && c.data_dir.empty() ? stored.value("data_dir", "") : c.data_dir;
    data::FolderOptions folder = darts::folder_options(stored);
    if (dataset != "folder") folder = {};
    const data::ImageData images = data::open_image_dataset(dataset, data_dir, folder);
    print_skipped_images(images);
    darts::EvalOptions options;
    options.split = c.split;
    options.device = run::resolve_device(c.device);
    options.batch_size = c.batch_size;
    options.workers = static_cast<int>(c.workers);
    const darts::RunEvaluation e = darts::evaluate_cnn_run(run_dir, images, options);
    fmt::print(
        "{} after {} epochs, {} {} images of {}: top-1 {:.2f}%, top-5 {:.2f}%, loss {:.4f}\n",
        e.checkpoint.string(), e.epochs, e.result.images, c.split, images.name,
        100 * e.result.accuracy, 100 * e.result.top5, e.result.loss);
  });
}

}  // namespace autonet::apps
