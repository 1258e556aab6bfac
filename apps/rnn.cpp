// `autonet rnn-search` and `autonet rnn-train`: recurrent DARTS (reference darts.md §7) over a run
// folder, with the run flags and config flags of every run command (apps/run_flags.h).
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/rnn/trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {
namespace {

using darts::RnnRunConfig;
using RnnCommand = RunCommand<RnnRunConfig>;

// The line every recurrent run ends with, stopped early or not.
darts::RnnOutcome summarised(darts::RnnOutcome out) {
  fmt::print("{} epochs done; best valid perplexity {:.2f}\n", out.epochs_done,
             out.best_valid_ppl);
  return out;
}

// A new run from the resolved config (nullopt: --print-config only printed it).
std::optional<darts::RnnOutcome> start_rnn(const RnnCommand& c, const darts::RunOptions& options) {
  const bool search = c.run.kind == "rnn-search";
  const RnnRunConfig config = c.config.resolve(c.run.config_file).config;
  config.validate(search);
  if (print_config(c.run, config)) return std::nullopt;
  const std::string dir = c.run.run_dir();
  fmt::print("{}: {} → {}\n", c.run.kind, config.dataset, dir);
  std::fflush(stdout);
  const data::TextCorpus corpus = data::open_text_corpus(config.dataset, config.data_dir);
  return summarised(search ? darts::run_rnn_search(config, corpus, dir, options)
                           : darts::run_rnn_train(config, corpus, dir, options));
}

// Either kind of run, on the corpus its stored config names.
darts::RnnOutcome resume_rnn(const std::string& dir, const nlohmann::json& stored,
                             const darts::RunOptions& options) {
  const data::TextCorpus corpus =
      data::open_text_corpus(stored.value("dataset", ""), stored.value("data_dir", std::string()));
  return summarised(darts::resume_rnn_run(dir, corpus, options));
}

// What a finished run prints beyond its summary: the test perplexity of a training, the
// genotype, its folder.
void report_rnn(const darts::RnnOutcome& out, const std::filesystem::path& dir) {
  if (out.test_ppl > 0) fmt::print("test perplexity (best checkpoint) {:.2f}\n", out.test_ppl);
  fmt::print("genotype = {}\n", darts::to_text(out.genotype));
  print_run_folder(dir);
}

void run(const RnnCommand& c) {
  c.execute({"rnn-search", "rnn-train"}, resume_rnn, start_rnn, report_rnn);
}

}  // namespace

void add_rnn_commands(CLI::App& app) {
  CLI::App* s = app.add_subcommand(
      "rnn-search", "Recurrent DARTS search (first or second order) on a word corpus");
  auto search = std::make_shared<RnnCommand>(s, "rnn-search", RnnRunConfig{}, darts::Scope::search);
  s->callback([search] { run(*search); });

  CLI::App* t = app.add_subcommand("rnn-train", "Train a derived recurrent cell from scratch");
  auto train = std::make_shared<RnnCommand>(t, "rnn-train", darts::rnn_train_defaults(),
                                            darts::Scope::train);
  t->callback([train] { run(*train); });
}

}  // namespace autonet::apps
