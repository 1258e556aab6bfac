// The run flags every run command shares (apps/run_flags.h).
#include "apps/run_flags.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "datasets/registry.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::apps {

void add_run_flags(CLI::App* cmd, RunFlags& flags) {
  const std::string group = "Run folder";
  cmd->add_option("--config", flags.config_file,
                  "JSON file of config keys (the flag names with _ for -); flags given on the "
                  "command line override it")
      ->check(CLI::ExistingFile)
      ->group(group);
  cmd->add_option("--resume", flags.resume_dir,
                  "continue the run in RUN_DIR exactly from its last checkpoint (its stored "
                  "config is used; only --device may change)")
      ->type_name("RUN_DIR")
      ->group(group);
  cmd->add_option("--out,--run-dir", flags.out, "the new run's folder (created; must not hold a run)")
      ->type_name("RUN_DIR")
      ->default_str("runs/" + flags.kind + "-YYYYmmdd-HHMMSS")
      ->group(group);
  cmd->add_flag("--quiet,--no-progress", flags.quiet,
                "no live progress line on stderr (default: off)")
      ->group(group);
  cmd->add_option("--stop-after-epochs", flags.stop_after_epochs,
                  "stop after this many epochs of this session (continue with --resume)")
      ->type_name("INT")
      ->default_str("none: run to the last epoch")
      ->check(CLI::PositiveNumber)
      ->group(group);
  cmd->add_flag("--print-config", flags.print_config,
                "print the run's config as JSON (defaults ← --config ← flags, checked) and exit "
                "without running (default: off)")
      ->group(group);
}

std::string RunFlags::run_dir() const {
  if (!out.empty()) return out;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return "runs/" + kind + "-" + stamp;
}

darts::RunOptions RunFlags::options() const {
  darts::RunOptions options;
  options.progress = !quiet;
  options.stop_after_epochs = stop_after_epochs;
  return options;
}

nlohmann::json open_resume(const RunFlags& run, const std::vector<std::string>& given,
                           const std::vector<std::string>& kinds) {
  for (const std::string& name : given)
    AN_CHECK(name == "--device")
        << name << " cannot be combined with --resume: a resumed run keeps the config stored in "
        << "its folder (only --device may change)";
  AN_CHECK(run.config_file.empty() && run.out.empty())
      << (run.out.empty() ? "--config" : "--out")
      << " cannot be combined with --resume: a resumed run keeps its folder and stored config";
  const run::RunFolder folder = run::RunFolder::open(run.resume_dir);
  folder.expect_kind(kinds);  // before the data set a folder of another kind would name
  nlohmann::json stored = folder.config();
  stored.erase("run");
  if (!run.print_config) {
    fmt::print("resuming {}\n", run.resume_dir);
    std::fflush(stdout);
  }
  return stored;
}

bool print_config(const RunFlags& run, const nlohmann::json& config) {
  if (run.print_config) fmt::print("{}\n", config.dump(2));
  return run.print_config;
}

void print_skipped_images(const data::ImageData& images) {
  for (const std::string& why : images.skipped_images) fmt::print("skipped: {}\n", why);
  if (!images.skipped_images.empty())
    fmt::print("note: --skip-bad-images left out {} unreadable images\n",
               images.skipped_images.size());
}

data::ImageData open_run_images(const nlohmann::json& config) {
  data::ImageData images =
      data::open_image_dataset(config.value("dataset", ""), config.value("data_dir", std::string()),
                               darts::folder_options(config));
  print_skipped_images(images);
  return images;
}

void print_run_folder(const std::filesystem::path& dir) {
  fmt::print("run folder: {}\nreport: {}\n", dir.string(), (dir / "report.html").string());
}

bool report_unfinished(bool finished, int64_t epochs_done, const RunFlags& run,
                       const std::filesystem::path& dir) {
  if (finished) return false;
  fmt::print("stopped after {} epochs; continue with: autonet {} --resume {}\n", epochs_done,
             run.kind, dir.string());
  return true;
}

}  // namespace autonet::apps
