// What every run command (search, train, rnn-search, rnn-train) shares: the run flags (--config,
// --resume, --out, --quiet, --stop-after-epochs, --print-config) and a flag per field of its
// config (apps/config_flags.h), with the same rules on each: a new run's config is defaults ←
// --config file ← flags; --resume takes the config stored in the run folder and refuses every
// config flag but --device.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/config_flags.h"
#include "darts/tasks/trainer_common.h"

namespace autonet::apps {

// Options that are not part of a config: where the run lives, how it is shown.
struct RunFlags {
  std::string kind;  // the command: names the default run folder and the resume hint
  std::string config_file, resume_dir, out;
  bool quiet = false;
  int64_t stop_after_epochs = -1;  // -1: run to the last epoch
  bool print_config = false;

  // --out, or runs/<kind>-YYYYmmdd-HHMMSS under the current folder.
  std::string run_dir() const;
  darts::RunOptions options() const;  // progress and stop_after_epochs
};
void add_run_flags(CLI::App* cmd, RunFlags& flags);

// --resume: refuses --config, --out and the config flags `given` other than --device, and a
// folder of another kind than `kinds`; returns the run's stored config (config.json without its
// "run" record).
nlohmann::json open_resume(const RunFlags& run, const std::vector<std::string>& given,
                           const std::vector<std::string>& kinds);

// Image folders with --skip-bad-images: prints each image left out and their number.
void print_skipped_images(const data::ImageData& images);

// The image data set a run's config names ("dataset", "data_dir" and the image-folder keys: a new
// run's resolved config as JSON, or the stored one on --resume), its skipped images printed.
data::ImageData open_run_images(const nlohmann::json& config);

// With --print-config: prints the config (resolved, or stored on --resume) and returns true.
bool print_config(const RunFlags& run, const nlohmann::json& config);

// When a run stopped before its last epoch, says how to continue it and returns true.
bool report_unfinished(bool finished, int64_t epochs_done, const RunFlags& run,
                       const std::filesystem::path& dir);

// The last lines of a finished run: its folder and its HTML report.
void print_run_folder(const std::filesystem::path& dir);

// The resume hook of an image command (RunCommand::execute): `resume(dir, images, options)` on
// the data set the stored config names.
template <class Resume>
auto resume_on_stored_images(Resume resume) {
  return [resume](const std::string& dir, const nlohmann::json& stored,
                  const darts::RunOptions& options) {
    return resume(dir, open_run_images(stored), options);
  };
}

// A run command: its run flags and its config's flags.
template <class Config>
struct RunCommand {
  RunCommand(CLI::App* cmd, std::string kind, const Config& defaults,
             darts::Scope scope = darts::Scope::any)
      : config(cmd, defaults, scope) {
    run.kind = std::move(kind);
    add_run_flags(cmd, run);
  }
  // What every run command does, with its three hooks: with --resume, the run's stored config
  // (printed instead with --print-config) is continued by `resume_run(run.resume_dir, stored,
  // options)`, on the --device given with it if any; otherwise `start_run(*this, options)` starts
  // a new run, or returns nullopt when it only printed the config. A run stopped early then says
  // how to continue it; `report(outcome, folder)` shows a finished one. The outcome has run_dir,
  // finished and epochs_done.
  template <class Resume, class Start, class Report>
  void execute(const std::vector<std::string>& kinds, Resume resume_run, Start start_run,
               Report report) const {
    darts::RunOptions options = run.options();
    decltype(start_run(*this, options)) out;
    if (!run.resume_dir.empty()) {
      const nlohmann::json stored = open_resume(run, config.given(), kinds);
      options.device = config.text("device");  // "" keeps the stored one
      if (print_config(run, stored)) return;
      out = resume_run(run.resume_dir, stored, options);
    } else {
      out = start_run(*this, options);
      if (!out) return;
    }
    const std::filesystem::path dir = std::filesystem::absolute(out->run_dir);
    if (report_unfinished(out->finished, out->epochs_done, run, dir)) return;
    report(*out, dir);
  }

  RunFlags run;
  ConfigFlags<Config> config;
};

}  // namespace autonet::apps
