// `autonet eval RUN_DIR`: top-1, top-5 and loss of a CNN training run's saved network on a data
// set (darts/evaluation.h), as the official test.py / test_imagenet.py.
#include <fmt/core.h>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/evaluation.h"
#include "darts/run_folder.h"
#include "darts/trainer_common.h"
#include "datasets/registry.h"
#include "run/common.h"
#include "runtime/device.h"

namespace autonet::apps {

void add_eval_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a CNN training run's last checkpoint: top-1, top-5 and loss on the test "
              "images (or another split or data set with the run's classes and image shape)");
  struct Flags {
    std::string run_dir, dataset, data_dir, split = "test", device = "auto";
    int64_t batch_size = 0, workers = 2;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("run_dir", f->run_dir, "the run folder (autonet train --out)")->required();
  cmd->add_option("--dataset", f->dataset, "data set to evaluate on (default: the run's)");
  cmd->add_option("--data-dir", f->data_dir, "its folder (default: the run's)");
  cmd->add_option("--split", f->split, "test or train")
      ->capture_default_str()
      ->check(CLI::IsMember({"test", "train"}));
  cmd->add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", f->batch_size, "batch size (0: the run's)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--workers", f->workers, "data loader threads")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->callback([f] {
    const nlohmann::json stored = darts::RunFolder::open(f->run_dir).config();
    // Another data set keeps the run's image-folder options (--image-size, ...).
    const std::string dataset = f->dataset.empty() ? stored.value("dataset", "") : f->dataset;
    const std::string data_dir = f->dataset.empty() && f->data_dir.empty()
                                     ? stored.value("data_dir", "")
                                     : f->data_dir;
    data::FolderOptions folder = darts::folder_options(stored);
    if (dataset != "folder") folder = {};
    const data::ImageData images = data::open_image_dataset(dataset, data_dir, folder);
    print_skipped_images(images);
    darts::EvalOptions options;
    options.split = f->split;
    options.device = run::resolve_device(f->device);
    options.batch_size = f->batch_size;
    options.workers = static_cast<int>(f->workers);
    const darts::RunEvaluation e = darts::evaluate_cnn_run(f->run_dir, images, options);
    fmt::print("{} after {} epochs, {} {} images of {}: top-1 {:.2f}%, top-5 {:.2f}%, loss {:.4f}\n",
               e.checkpoint.string(), e.epochs, e.result.images, f->split, images.name,
               100 * e.result.accuracy, 100 * e.result.top5, e.result.loss);
  });
}

}  // namespace autonet::apps
