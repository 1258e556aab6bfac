// `autonet rnn-search` and `autonet rnn-train`: recurrent DARTS (reference darts.md §7) over a run
// folder. Every field of darts::RnnRunConfig is a flag; --config reads a JSON file of them first
// (flags given on the command line win); --resume continues a run folder exactly.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "darts/rnn_search_trainer.h"
#include "darts/run_folder.h"
#include "datasets/registry.h"

namespace autonet::apps {
namespace {

struct RnnCommand {
  darts::RnnRunConfig config;
  std::string run_dir, resume, config_file;
  bool no_progress = false;
  int64_t stop_after_epochs = -1;
};

void add_flags(CLI::App* cmd, RnnCommand& c) {
  darts::RnnRunConfig& f = c.config;
  cmd->add_option("--out,--run-dir", c.run_dir, "the new run's folder (created; must not hold a run)");
  cmd->add_option("--resume", c.resume, "continue the run in this folder from its last checkpoint");
  cmd->add_option("--config", c.config_file, "JSON file of config keys (flags win)");
  cmd->add_flag("--no-progress", c.no_progress, "no live progress line");
  cmd->add_option("--stop-after-epochs", c.stop_after_epochs,
                  "stop after this many epochs of this session (resume later)");
  cmd->add_option("--dataset", f.dataset, "kjv (embedded) or ptb")->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "PTB folder (train/valid/test.txt); kjv: cache folder");
  cmd->add_option("--train-tokens", f.train_tokens, "use the first N train tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--valid-tokens", f.valid_tokens, "use the first N valid/test tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--emsize", f.emsize)->capture_default_str();
  cmd->add_option("--nhid", f.nhid)->capture_default_str();
  cmd->add_option("--dropout", f.dropout)->capture_default_str();
  cmd->add_option("--dropouth", f.dropouth)->capture_default_str();
  cmd->add_option("--dropoutx", f.dropoutx)->capture_default_str();
  cmd->add_option("--dropouti", f.dropouti)->capture_default_str();
  cmd->add_option("--dropoute", f.dropoute)->capture_default_str();
  cmd->add_option("--epochs", f.epochs)->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size)->capture_default_str();
  cmd->add_option("--eval-batch-size", f.eval_batch_size)->capture_default_str();
  cmd->add_option("--test-batch-size", f.test_batch_size)->capture_default_str();
  cmd->add_option("--bptt", f.bptt)->capture_default_str();
  cmd->add_option("--learning-rate", f.learning_rate)->capture_default_str();
  cmd->add_option("--weight-decay", f.weight_decay)->capture_default_str();
  cmd->add_option("--grad-clip", f.grad_clip)->capture_default_str();
  cmd->add_option("--ar-alpha", f.ar_alpha)->capture_default_str();
  cmd->add_option("--tar-beta", f.tar_beta)->capture_default_str();
  cmd->add_option("--seed", f.seed)->capture_default_str();
  cmd->add_option("--device", f.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--log-every", f.log_every)->capture_default_str();
  cmd->add_option("--max-steps", f.max_steps, "cap on the steps of an epoch (0: all)")
      ->capture_default_str();
}

// --config first, then the flags that were given on the command line.
darts::RnnRunConfig resolve(const CLI::App* cmd, const RnnCommand& c,
                            const darts::RnnRunConfig& defaults) {
  if (c.config_file.empty()) return c.config;
  nlohmann::json j = defaults;
  j.update(darts::read_json_file(c.config_file));
  const nlohmann::json given = c.config;
  for (const auto& [key, value] : given.items()) {
    std::string flag = "--" + key;
    for (char& ch : flag)
      if (ch == '_') ch = '-';
    if (cmd->count(flag) > 0) j[key] = value;
  }
  return darts::config_from_json<darts::RnnRunConfig>(j, "rnn");
}

void run(const CLI::App* cmd, const RnnCommand& c, bool search,
         const darts::RnnRunConfig& defaults) {
  darts::RunOptions options;
  options.progress = !c.no_progress;
  options.stop_after_epochs = c.stop_after_epochs;
  darts::RnnOutcome out;
  if (!c.resume.empty()) {
    const darts::RnnRunConfig stored = darts::config_from_json<darts::RnnRunConfig>(
        [&] {
          const darts::RunFolder folder = darts::RunFolder::open(c.resume);
          folder.expect_kind({"rnn-search", "rnn-train"});
          nlohmann::json j = folder.config();
          j.erase("run");
          return j;
        }(),
        "rnn");
    if (cmd->count("--device") > 0) options.device = c.config.device;
    const data::TextCorpus corpus = data::open_text_corpus(stored.dataset, stored.data_dir);
    out = darts::resume_rnn_run(c.resume, corpus, options);
  } else {
    AN_CHECK(!c.run_dir.empty()) << "give --out for a new run (or --resume DIR)";
    const darts::RnnRunConfig config = resolve(cmd, c, defaults);
    const data::TextCorpus corpus = data::open_text_corpus(config.dataset, config.data_dir);
    out = search ? darts::run_rnn_search(config, corpus, c.run_dir, options)
                 : darts::run_rnn_train(config, corpus, c.run_dir, options);
  }
  fmt::print("{} epochs done{}; best valid perplexity {:.2f}\n", out.epochs_done,
             out.finished ? "" : " (stopped early: --resume to continue)", out.best_valid_ppl);
  if (out.test_ppl > 0) fmt::print("test perplexity (best checkpoint) {:.2f}\n", out.test_ppl);
  fmt::print("genotype = {}\nrun folder: {}\n", darts::to_text(out.genotype),
             out.run_dir.string());
}

}  // namespace

void add_rnn_commands(CLI::App& app) {
  auto search = std::make_shared<RnnCommand>();
  CLI::App* s = app.add_subcommand("rnn-search", "Recurrent DARTS search (first or second order) on a word corpus");
  add_flags(s, *search);
  s->add_option("--arch-learning-rate", search->config.arch_learning_rate)->capture_default_str();
  s->add_option("--arch-weight-decay", search->config.arch_weight_decay)->capture_default_str();
  s->add_flag("--unrolled", search->config.unrolled, "second-order α steps (reference §7.8)");
  s->callback([s, search] { run(s, *search, true, darts::RnnRunConfig{}); });

  auto train = std::make_shared<RnnCommand>();
  train->config = darts::rnn_train_defaults();
  CLI::App* t = app.add_subcommand("rnn-train", "Train a derived recurrent cell from scratch");
  add_flags(t, *train);
  t->add_option("--genotype", train->config.genotype,
                "published name (DARTS, DARTS_V1, DARTS_V2), a .txt/.json file, or the text")
      ->capture_default_str();
  t->add_option("--nonmono", train->config.nonmono, "the ASGD switch's window")
      ->capture_default_str();
  t->callback([t, train] { run(t, *train, false, darts::rnn_train_defaults()); });
}

}  // namespace autonet::apps
