// Shared flag handling of `autonet search` and `autonet train`.
#include "apps/run_flags.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/core.h>

#include <cstdio>

#include "darts/run_folder.h"
#include "darts/trainer_common.h"
#include "runtime/error.h"

namespace autonet::apps {

void add_run_flags(CLI::App* cmd, RunFlags& flags, const std::string& kind) {
  cmd->add_option("--config", flags.config_file,
                  "JSON file of config keys (the flag names with _ for -); flags given on the "
                  "command line override it")
      ->check(CLI::ExistingFile)
      ->group("Run");
  cmd->add_option("--resume", flags.resume_dir,
                  "continue the run in RUN_DIR exactly from its last checkpoint (its stored "
                  "config is used)")
      ->group("Run");
  cmd->add_option("--out", flags.out,
                  "run folder to create (default: runs/" + kind + "-YYYYmmdd-HHMMSS)")
      ->group("Run");
  cmd->add_flag("--quiet", flags.quiet, "no live progress line on stderr")->group("Run");
}

std::string default_run_dir(const std::string& kind) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return "runs/" + kind + "-" + stamp;
}

void check_resume_flags(const std::vector<std::string>& given,
                        const std::vector<std::string>& allowed) {
  for (const std::string& name : given)
    AN_CHECK(std::find(allowed.begin(), allowed.end(), name) != allowed.end())
        << name << " cannot be combined with --resume: a resumed run keeps the config stored in "
        << "its folder (only --device may change)";
}

ImageResume open_image_resume(const RunFlags& run, const std::vector<std::string>& given,
                              const std::string& device, const std::string& kind) {
  check_resume_flags(given, {"--device"});
  AN_CHECK(run.config_file.empty() && run.out.empty())
      << "--config and --out cannot be combined with --resume";
  const darts::RunFolder folder = darts::RunFolder::open(run.resume_dir);
  folder.expect_kind({kind});  // before the data set a folder of another kind would name
  const nlohmann::json stored = folder.config();
  ImageResume r{data::open_image_dataset(stored.value("dataset", ""),
                                         stored.value("data_dir", std::string()),
                                         darts::folder_options(stored)),
                device};
  print_skipped_images(r.images);
  fmt::print("resuming {}\n", run.resume_dir);
  std::fflush(stdout);
  return r;
}

void print_skipped_images(const data::ImageData& images) {
  for (const std::string& why : images.skipped_images) fmt::print("skipped: {}\n", why);
  if (!images.skipped_images.empty())
    fmt::print("note: --skip-bad-images left out {} unreadable images\n",
               images.skipped_images.size());
}

bool report_unfinished(bool finished, int64_t epochs_done, const std::string& command,
                       const std::filesystem::path& dir) {
  if (finished) return false;
  fmt::print("stopped after {} epochs; continue with: autonet {} --resume {}\n", epochs_done,
             command, dir.string());
  return true;
}

}  // namespace autonet::apps
