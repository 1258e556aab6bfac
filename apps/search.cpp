// `autonet search`: DARTS architecture search into a run folder (darts/tasks/search_trainer.h).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/commands.h"
#include "apps/run_flags.h"
#include "darts/tasks/search_trainer.h"
#include "datasets/registry.h"

namespace autonet::apps {

namespace {

using darts::SearchRunConfig;
using SearchCommand = RunCommand<SearchRunConfig>;

// A new search from the resolved config (nullopt: --print-config only printed it).
std::optional<darts::SearchOutcome> start_search(const SearchCommand& c,
                                                 const darts::RunOptions& options) {
  const SearchRunConfig config = c.config.resolve(c.run.config_file).config;
  config.validate();
  if (print_config(c.run, config)) return std::nullopt;
  const std::string dir = c.run.run_dir();
  const data::ImageData images = open_run_images(nlohmann::json(config));
  fmt::print("search: {} on {} ({} order), C={} L={}, {} epochs, batch {} → {}\n", config.method,
             images.name, config.unrolled ? "second" : "first", config.channels, config.layers,
             config.epochs, config.batch_size, dir);
  std::fflush(stdout);
  return darts::run_search(config, images, dir, options);
}

// What a finished search prints: its genotypes and best accuracy, then its folder.
void report_search(const darts::SearchOutcome& out, const std::filesystem::path& dir) {
  fmt::print("genotype: {}\n", darts::to_text(out.genotype));
  fmt::print("genotype at the start of the last epoch (the official script's): {}\n",
             darts::to_text(out.genotype_last_epoch_start));
  fmt::print("best validation accuracy: {:.2f}%\n", 100 * out.valid_accuracy);
  print_run_folder(dir);
}

}  // namespace

void add_search_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "search",
      "DARTS architecture search (first order; --unrolled for second order) into a run folder: "
      "config.json, log.jsonl, checkpoints, genotype, cell drawings, report.html");
  auto c = std::make_shared<SearchCommand>(cmd, "search", SearchRunConfig{});
  cmd->callback([c] {
    c->execute({"search"}, resume_on_stored_images(darts::resume_search), start_search,
               report_search);
  });
}

}  // namespace autonet::apps
