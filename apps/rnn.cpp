// `autonet rnn-search` and `autonet rnn-train`: recurrent DARTS (reference darts.md §7) over a run
// folder, with the run flags and config flags of every run command (apps/run_flags.h).
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/rnn/trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {
namespace {

using darts::RnnRunConfig;
using RnnCommand = RunCommand<RnnRunConfig>;

void run(const RnnCommand& c, bool search) {
  darts::RunOptions options = c.run.options();
  darts::RnnOutcome out;
  if (!c.run.resume_dir.empty()) {
    const nlohmann::json stored = c.resume(options, {"rnn-search", "rnn-train"});
    if (print_config(c.run, stored)) return;
    const data::TextCorpus corpus = data::open_text_corpus(
        stored.value("dataset", ""), stored.value("data_dir", std::string()));
    out = darts::resume_rnn_run(c.run.resume_dir, corpus, options);
  } else {
    const RnnRunConfig config = c.config.resolve(c.run.config_file).config;
    config.validate(search);
    if (print_config(c.run, config)) return;
    const std::string dir = c.run.run_dir();
    fmt::print("{}: {} → {}\n", c.run.kind, config.dataset, dir);
    std::fflush(stdout);
    const data::TextCorpus corpus = data::open_text_corpus(config.dataset, config.data_dir);
    out = search ? darts::run_rnn_search(config, corpus, dir, options)
                 : darts::run_rnn_train(config, corpus, dir, options);
  }
  const std::filesystem::path dir = std::filesystem::absolute(out.run_dir);
  fmt::print("{} epochs done; best valid perplexity {:.2f}\n", out.epochs_done,
             out.best_valid_ppl);
  if (report_unfinished(out.finished, out.epochs_done, c.run, dir)) return;
  if (out.test_ppl > 0) fmt::print("test perplexity (best checkpoint) {:.2f}\n", out.test_ppl);
  fmt::print("genotype = {}\nrun folder: {}\nreport: {}\n", darts::to_text(out.genotype),
             dir.string(), (dir / "report.html").string());
}

}  // namespace

void add_rnn_commands(CLI::App& app) {
  CLI::App* s = app.add_subcommand(
      "rnn-search", "Recurrent DARTS search (first or second order) on a word corpus");
  auto search = std::make_shared<RnnCommand>(s, "rnn-search", RnnRunConfig{}, darts::Scope::search);
  s->callback([search] { run(*search, true); });

  CLI::App* t = app.add_subcommand("rnn-train", "Train a derived recurrent cell from scratch");
  auto train = std::make_shared<RnnCommand>(t, "rnn-train", darts::rnn_train_defaults(),
                                            darts::Scope::train);
  t->callback([train] { run(*train, false); });
}

}  // namespace autonet::apps
