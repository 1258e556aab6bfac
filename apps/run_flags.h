// Flags shared by `autonet search` and `autonet train`: every field of a run config is a flag,
// a config file (--config FILE, JSON) supplies values that flags given on the command line
// override, and --resume continues a run from its folder.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "datasets/registry.h"

namespace autonet::apps {

// Binds the flags of one config struct and knows which were given on the command line.
template <class Config>
class ConfigFlags {
 public:
  explicit ConfigFlags(CLI::App* cmd) : cmd_(cmd), cli_(std::make_shared<Config>()) {}

  Config& cli() { return *cli_; }

  // --flag VALUE bound to a field; the copy moves the flag's value onto a config from a file.
  template <class T>
  CLI::Option* option(const std::string& name, T Config::*field, const std::string& help,
                      const std::string& group) {
    CLI::Option* opt = cmd_->add_option(name, (*cli_).*field, help)->capture_default_str();
    opt->group(group);
    bindings_.push_back({opt, [field](const Config& from, Config& to) { to.*field = from.*field; }});
    return opt;
  }
  // --on,!--off pair for a bool field.
  CLI::Option* flag(const std::string& names, bool Config::*field, const std::string& help,
                    const std::string& group) {
    CLI::Option* opt = cmd_->add_flag(names, (*cli_).*field, help);
    opt->group(group);
    bindings_.push_back({opt, [field](const Config& from, Config& to) { to.*field = from.*field; }});
    return opt;
  }

  // Flags of the config given on the command line (their names, for messages).
  std::vector<std::string> given() const {
    std::vector<std::string> names;
    for (const Binding& b : bindings_)
      if (b.option->count() > 0) names.push_back(b.option->get_name());
    return names;
  }
  bool given(const std::string& name) const {
    for (const Binding& b : bindings_)
      if (b.option->count() > 0 && b.option->check_name(name)) return true;
    return false;
  }
  // `base` (from a config file, or the defaults) with every flag given on the command line.
  Config apply(Config base) const {
    for (const Binding& b : bindings_)
      if (b.option->count() > 0) b.copy(*cli_, base);
    return base;
  }

 private:
  struct Binding {
    CLI::Option* option;
    std::function<void(const Config&, Config&)> copy;
  };
  CLI::App* cmd_;
  std::shared_ptr<Config> cli_;
  std::vector<Binding> bindings_;
};

// The data set flags of the image commands (search, train): --dataset, --data-dir and the image
// folder options.
template <class Config>
void add_image_data_flags(ConfigFlags<Config>& f, const std::string& group) {
  f.option("--dataset", &Config::dataset,
           "data set: fashion-mnist (embedded), mnist, cifar10, cifar100, folder (an image folder: "
           "one subfolder per class of JPEG/PNG files, or DIR/train + DIR/val)",
           group);
  f.option("--data-dir", &Config::data_dir,
           "folder of the data set files (empty: the data set's default folder)", group);
  f.option("--image-size", &Config::image_size,
           "--dataset folder: 0 keeps the images in memory at their own (common) size; S decodes "
           "them in the loader threads and crops S×S with the ImageNet transforms (224 for "
           "ImageNet, 32 or 64 to search on smaller inputs)",
           group);
  f.flag("--skip-bad-images", &Config::skip_bad_images,
         "--dataset folder: leave out images that cannot be read or decoded (counted in "
         "config.json, listed in log.jsonl) instead of stopping at the first",
         group);
  f.flag("--compute-mean-std", &Config::compute_mean_std,
         "--dataset folder: normalise with the per-channel mean/std of the training images "
         "(one decoding pass) instead of ImageNet's constants",
         group);
}

// Options that are not part of a config: where the run lives, how it is shown.
struct RunFlags {
  std::string config_file;
  std::string resume_dir;
  std::string out;
  bool quiet = false;
};
void add_run_flags(CLI::App* cmd, RunFlags& flags, const std::string& kind);

// runs/<kind>-YYYYmmdd-HHMMSS under the current folder.
std::string default_run_dir(const std::string& kind);

// --resume takes the stored config: refuse config flags other than those in `allowed`.
void check_resume_flags(const std::vector<std::string>& given,
                        const std::vector<std::string>& allowed);

// --resume of an image run (search, train): only --device (`device`, "" when not given) may come
// with it; opens the data set that the run's config.json names, and announces the resume.
struct ImageResume {
  data::ImageData images;
  std::string device;  // "" keeps the stored device
};
ImageResume open_image_resume(const RunFlags& run, const std::vector<std::string>& given,
                              const std::string& device, const std::string& kind);
// Image folders with --skip-bad-images: prints each image left out and their number.
void print_skipped_images(const data::ImageData& images);
// When a run stopped before its last epoch, says how to continue it and returns true.
bool report_unfinished(bool finished, int64_t epochs_done, const std::string& command,
                       const std::filesystem::path& dir);

}  // namespace autonet::apps
