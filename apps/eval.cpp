// `autonet eval RUN_DIR`: a saved run's network on a split of its data (darts/tasks/evaluation.h), as
// the official test.py / test_imagenet.py (CNN: top-1, top-5, loss) and rnn/test.py (recurrent:
// perplexity), from its last or its best checkpoint.
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
  std::string checkpoint = "last";
  std::string device = "auto";
  int64_t batch_size = 0;  // 0: the run's
  int64_t workers = 2;

  static const darts::ConfigTable<EvalConfig>& table() {
    using C = EvalConfig;
    using F = darts::ConfigField<C>;
    static const darts::ConfigTable<C> t({
        {"Data",
         {F{"dataset", &C::dataset,
            "data set to evaluate on (empty: the run's): images with the run's classes and image "
            "shape (an image folder is read with the run's --image-size and other folder "
            "options), or a corpus with the run's vocabulary"},
          F{"data_dir", &C::data_dir, "its folder (empty: the run's)"},
          F{"split", &C::split,
            "train (what the run trained on), valid (its held-out images, --valid-portion; the "
            "valid tokens) or test"},
          F{"checkpoint", &C::checkpoint,
            "last (the last completed epoch's, checkpoint.safetensors) or best (the best "
            "epoch's, best.safetensors: by validation loss for recurrent runs; by the evaluated "
            "set's accuracy for CNN training, as train_imagenet.py)"}}},
        {"Run",
         {F{"device", &C::device,
            "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N"},
          F{"batch_size", &C::batch_size,
            "batch size (0: the run's; recurrent: its --eval-batch-size for valid, "
            "--test-batch-size for test)",
            darts::non_negative()},
          F{"workers", &C::workers, "data loader threads (images)", darts::closed(0, 64)}}},
    });
    return t;
  }
};

darts::EvalOptions eval_options(const EvalConfig& c) {
  darts::EvalOptions options;
  options.split = c.split;
  options.checkpoint = c.checkpoint;
  options.device = run::resolve_device(c.device);
  options.batch_size = c.batch_size;
  options.workers = static_cast<int>(c.workers);
  return options;
}

void eval_rnn(const std::string& run_dir, const EvalConfig& c, const nlohmann::json& stored) {
  const data::TextCorpus corpus =
      c.dataset.empty() ? data::open_text_corpus(stored.value("dataset", ""),
                                                 stored.value("data_dir", std::string()))
                        : data::open_text_corpus(c.dataset, c.data_dir);
  const darts::RnnEvaluation e = darts::evaluate_rnn_run(run_dir, corpus, eval_options(c));
  fmt::print("{} after {} epochs, {} {} tokens of {}: loss {:.4f}, perplexity {:.2f}\n",
             e.checkpoint.string(), e.epochs, e.tokens, c.split, corpus.name, e.loss,
             e.perplexity);
}

void eval_cnn(const std::string& run_dir, const EvalConfig& c, const nlohmann::json& stored) {
  // Another data set keeps the run's image-folder options (--image-size, ...).
  const std::string dataset = c.dataset.empty() ? stored.value("dataset", "") : c.dataset;
  const std::string data_dir =
      c.dataset.empty() && c.data_dir.empty() ? stored.value("data_dir", "") : c.data_dir;
  data::FolderOptions folder = darts::folder_options(stored);
  if (dataset != "folder") folder = {};
  const data::ImageData images = data::open_image_dataset(dataset, data_dir, folder);
  print_skipped_images(images);
  const darts::RunEvaluation e = darts::evaluate_cnn_run(run_dir, images, eval_options(c));
  fmt::print(
      "{} after {} epochs, {} {} images of {}: top-1 {:.2f}%, top-5 {:.2f}%, loss {:.4f}\n",
      e.checkpoint.string(), e.epochs, e.result.images, c.split, images.name,
      100 * e.result.accuracy, 100 * e.result.top5, e.result.loss);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a saved run from its last or best checkpoint: a CNN training run's top-1, top-5 "
      "and loss, a recurrent run's perplexity, on the test split (or train, valid, or another "
      "data set with the run's classes and image shape or vocabulary)");
  struct Flags {
    explicit Flags(CLI::App* cmd) : config(cmd, EvalConfig{}, darts::Scope::any) {}
    std::string run_dir;
    ConfigFlags<EvalConfig> config;
  };
  auto flags = std::make_shared<Flags>(cmd);
  cmd->add_option("run_dir", flags->run_dir,
                  "the run folder (of autonet train, rnn-train or rnn-search)")
      ->required();
  cmd->callback([flags] {
    const EvalConfig c = flags->config.resolve("").config;
    darts::check_fields(c);
    eval_options(c).validate();
    std::string kind;
    nlohmann::json stored;
    {  // evaluation opens the folder again, under its lock
      const run::RunFolder folder = run::RunFolder::open(flags->run_dir);
      kind = folder.kind();
      stored = folder.config();
    }
    if (darts::is_rnn_run(kind))
      eval_rnn(flags->run_dir, c, stored);
    else
      eval_cnn(flags->run_dir, c, stored);
  });
}

}  // namespace autonet::apps
