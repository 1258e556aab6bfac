// The four run commands (search, train, rnn-search, rnn-train) built in-process as `autonet` builds
// them: their --help, how a config is resolved (--print-config stops before any data is read,
// unless train's --network auto must see the images' size), and the messages for bad flags and
// config files.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>
#include <unistd.h>

#include "apps/commands.h"
#include "darts/rnn/trainer.h"
#include "darts/tasks/search_trainer.h"
#include "darts/tasks/train_trainer.h"
#include "runtime/error.h"

namespace autonet::apps {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kRunCommands = {"search", "train", "rnn-search", "rnn-train"};

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>("autonet");
  app->require_subcommand(1);
  add_search_command(*app);
  add_train_command(*app);
  add_rnn_commands(*app);
  return app;
}

// `autonet ARGS` in-process: what it printed on stdout, or the error it raised.
struct Outcome {
  std::string out, error;
};
Outcome run(const std::vector<std::string>& args) {
  auto app = make_app();
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them so
  Outcome o;
  testing::internal::CaptureStdout();
  try {
    app->parse(reversed);
  } catch (const Error& e) {
    o.error = e.message();
  } catch (const CLI::Error& e) {
    o.error = e.what();
  }
  o.out = testing::internal::GetCapturedStdout();
  return o;
}

// The config a command would run with (--print-config).
json printed_config(std::vector<std::string> args) {
  args.push_back("--print-config");
  const Outcome o = run(args);
  EXPECT_EQ(o.error, "") << args[0];
  return o.error.empty() ? json::parse(o.out) : json();
}

// A config file in a fresh temporary folder, named by process and count: ctest runs each test in
// a process of its own, side by side, so a name from the test's random seed (0 in every one) let
// two tests write and delete each other's file.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    dir_ = fs::temp_directory_path() /
           ("autonet-apps-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    std::ofstream(path()) << text;
  }
  ~ConfigFile() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "config.json").string(); }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

void expect_parts(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_FALSE(message.empty()) << "no error";
  for (const std::string& p : parts)
    EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' missing from: " << message;
}

// --help as {flag: (text between the flag and its help, help)}. CLI11 prints an option as
// "  --name[,--alias] TYPE=DEFAULT", padded to the column width, then its help; when the left part
// is longer, the help goes on the next line, indented to the column width.
std::map<std::string, std::pair<std::string, std::string>> help_entries(const CLI::App& cmd) {
  const size_t width = cmd.get_formatter()->get_column_width();
  std::map<std::string, std::pair<std::string, std::string>> entries;
  std::vector<std::string> lines;
  std::istringstream in(cmd.help());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("  -", 0) != 0) continue;
    const bool help_below = i + 1 < lines.size() && lines[i + 1].size() > width &&
                            lines[i + 1].find_first_not_of(' ') == width;
    std::string left = help_below ? line : line.substr(0, std::min(width, line.size()));
    const std::string help = help_below ? lines[i + 1].substr(width)
                             : line.size() > width ? line.substr(width)
                                                   : "";
    left = left.substr(2, left.find_last_not_of(' ') - 1);
    const std::string flag = left.substr(0, left.find_first_of(", "));
    entries[flag] = {left.substr(flag.size()), help};
  }
  return entries;
}

// Every flag of every run command has a help text, and every config field's flag shows its true
// default: "=VALUE" for options, "(default: on|off)" for switches.
template <class Config>
void expect_config_flags_in_help(const std::string& command, const Config& defaults,
                                 darts::Scope scope) {
  auto app = make_app();
  const auto entries = help_entries(*app->get_subcommand(command));
  for (const auto& [flag, entry] : entries)
    EXPECT_FALSE(entry.second.empty()) << command << " " << flag << " has no help";
  for (const darts::ConfigField<Config>& field : Config::table().fields()) {
    const bool used = field.scope == darts::Scope::any || field.scope == scope;
    ASSERT_EQ(entries.count(field.flag()), used ? 1u : 0u) << command << " " << field.flag();
    if (!used) continue;
    const auto& [left, text] = entries.at(field.flag());
    const json value = field.get(defaults);
    if (field.is_bool()) {
      const std::string shown = value.get<bool>() ? "(default: on)" : "(default: off)";
      EXPECT_NE(text.find(shown), std::string::npos) << command << " " << field.flag() << ": " << text;
      EXPECT_EQ(entries.count(field.off_name()), 1u) << command << " " << field.off_name();
    } else {
      const std::string shown = !value.is_string() ? value.dump()
                                : value.get<std::string>().empty() ? "\"\""
                                                                    : value.get<std::string>();
      EXPECT_NE(left.find("=" + shown), std::string::npos)
          << command << " " << field.flag() << ": '" << left << "' lacks =" << shown;
    }
  }
  for (const char* run_flag : {"--config", "--resume", "--out", "--quiet", "--stop-after-epochs",
                               "--print-config"})
    EXPECT_EQ(entries.count(run_flag), 1u) << command << " " << run_flag;
}

TEST(RunCommands, HelpListsEveryFlagWithItsHelpAndTrueDefault) {
  expect_config_flags_in_help("search", darts::SearchRunConfig{}, darts::Scope::any);
  expect_config_flags_in_help("train", darts::TrainRunConfig{}, darts::Scope::any);
  expect_config_flags_in_help("rnn-search", darts::RnnRunConfig{}, darts::Scope::search);
  expect_config_flags_in_help("rnn-train", darts::rnn_train_defaults(), darts::Scope::train);
  // The switches that default to on (issue: --help showed them as {false}).
  auto app = make_app();
  const auto train = help_entries(*app->get_subcommand("train"));
  EXPECT_NE(train.at("--auxiliary").second.find("(default: on)"), std::string::npos);
  EXPECT_NE(train.at("--cutout").second.find("(default: on)"), std::string::npos);
  const auto search = help_entries(*app->get_subcommand("search"));
  EXPECT_NE(search.at("--cuda-graph").second.find("(default: on)"), std::string::npos);
  EXPECT_NE(search.at("--cutout").second.find("(default: off)"), std::string::npos);
}

TEST(RunCommands, ResolveDefaultsThenConfigFileThenFlags) {
  const ConfigFile file(R"({"epochs": 3, "learning_rate": 0.1, "cutout": true})");
  const json c = printed_config({"search", "--config", file.path(), "--epochs", "7"});
  EXPECT_EQ(c.at("epochs"), 7);            // the flag wins over the file
  EXPECT_EQ(c.at("learning_rate"), 0.1);   // from the file
  EXPECT_EQ(c.at("cutout"), true);
  EXPECT_EQ(c.at("layers"), 8);            // the default
  // A later flag wins: scripts/run appends the user's flags to its own (`scripts/run --epochs 1`).
  EXPECT_EQ(printed_config({"search", "--epochs", "4", "--epochs", "1"}).at("epochs"), 1);
  EXPECT_EQ(printed_config({"search", "--config", file.path(), "--no-cutout"}).at("cutout"), false);
  EXPECT_EQ(printed_config({"search", "--unrolled"}).at("unrolled"), true);
  EXPECT_EQ(printed_config({"train", "--network", "cifar", "--no-auxiliary"}).at("auxiliary"),
            false);
  darts::TrainRunConfig cifar;
  cifar.network = "cifar";
  EXPECT_EQ(printed_config({"train", "--network", "cifar"}), json(cifar));
}

// The ImageNet network's defaults are train_imagenet.py's (darts/tasks/train_trainer.h
// imagenet_recipe()), resolved before --print-config shows them; a file's or a flag's value wins.
TEST(RunCommands, ImageNetNetworkTakesTheOfficialRecipe) {
  const json c = printed_config({"train", "--network", "imagenet"});
  EXPECT_EQ(c.at("epochs"), 250);
  EXPECT_EQ(c.at("batch_size"), 128);
  EXPECT_EQ(c.at("lr_schedule"), "step");
  EXPECT_EQ(c.at("label_smoothing"), 0.1);
  EXPECT_EQ(c.at("cutout"), false);
  const ConfigFile file(R"({"epochs": 3, "label_smoothing": 0})");
  const json given = printed_config({"train", "--config", file.path(), "--network", "imagenet",
                                     "--batch-size", "16", "--cutout"});
  EXPECT_EQ(given.at("epochs"), 3);
  EXPECT_EQ(given.at("label_smoothing"), 0);
  EXPECT_EQ(given.at("batch_size"), 16);
  EXPECT_EQ(given.at("cutout"), true);
  EXPECT_EQ(given.at("weight_decay"), 3e-5);
  // --network auto on an image folder cropped to 224: the ImageNet network, without reading it.
  const json folder = printed_config(
      {"train", "--dataset", "folder", "--data-dir", "no-such-folder", "--image-size", "224"});
  EXPECT_EQ(folder.at("lr_schedule"), "step");
  EXPECT_EQ(printed_config({"train", "--dataset", "folder", "--data-dir", "no-such-folder",
                            "--image-size", "64"})
                .at("lr_schedule"),
            "cosine");
  expect_parts(run({"train", "--lr-schedule", "linear", "--print-config"}).error,
               {"--lr-schedule must be cosine or step, got 'linear'"});
  expect_parts(run({"train", "--lr-gamma", "0", "--print-config"}).error,
               {"--lr-gamma must be in (0, 1]"});
}

// Issue 15: rnn-search/rnn-train --config failed for every file, valid ones included.
TEST(RunCommands, RnnCommandsReadConfigFiles) {
  const ConfigFile search(R"({"epochs": 3, "emsize": 20, "nhid": 20, "unrolled": true})");
  json c = printed_config({"rnn-search", "--config", search.path(), "--bptt", "12"});
  EXPECT_EQ(c.at("epochs"), 3);
  EXPECT_EQ(c.at("nhid"), 20);
  EXPECT_EQ(c.at("unrolled"), true);
  EXPECT_EQ(c.at("bptt"), 12);
  const ConfigFile train(R"({"genotype": "DARTS_V1", "nonmono": 3})");
  c = printed_config({"rnn-train", "--config", train.path()});
  EXPECT_EQ(c.at("genotype"), "DARTS_V1");
  EXPECT_EQ(c.at("nonmono"), 3);
  EXPECT_EQ(c.at("nhid"), 850);  // rnn-train's own defaults under the file
  // A key of the other command is refused, naming it and the file.
  expect_parts(run({"rnn-search", "--config", train.path(), "--print-config"}).error,
               {train.path(), "'genotype'", "not a setting of rnn-search"});
  // Old spellings keep working.
  EXPECT_EQ(run({"rnn-search", "--no-progress", "--run-dir", "x", "--print-config"}).error, "");
}

// rnn-train --dataset wt2 takes the WikiText-2 sizes of the reference README; what a flag or a
// config file gives wins over the preset, and rnn-search keeps its own defaults.
TEST(RunCommands, Wt2PresetOfRnnTrain) {
  json c = printed_config({"rnn-train", "--dataset", "wt2", "--data-dir", "wt2"});
  EXPECT_EQ(c.at("emsize"), 700);
  EXPECT_EQ(c.at("nhid"), 700);
  EXPECT_EQ(c.at("dropouth"), 0.15);
  EXPECT_EQ(c.at("weight_decay"), 5e-7);
  EXPECT_EQ(c.at("batch_size"), 64);  // as PTB
  EXPECT_EQ(c.at("dropoute"), 0.1);
  EXPECT_EQ(printed_config({"rnn-train", "--dataset", "WikiText-2"}).at("nhid"), 700);
  const ConfigFile file(R"({"dropouth": 0.2})");
  c = printed_config({"rnn-train", "--dataset", "wt2", "--config", file.path(), "--emsize", "600",
                      "--nhid", "600"});
  EXPECT_EQ(c.at("nhid"), 600);
  EXPECT_EQ(c.at("dropouth"), 0.2);
  EXPECT_EQ(c.at("weight_decay"), 5e-7);
  EXPECT_EQ(printed_config({"rnn-train", "--dataset", "ptb"}).at("nhid"), 850);
  EXPECT_EQ(printed_config({"rnn-search", "--dataset", "wt2"}).at("nhid"), 300);
}

// search --method pc-darts takes the official PC-DARTS CIFAR search recipe (train_search.py of
// yuhuixu1993/PC-DARTS, written out here from that file); a flag or a config-file key wins, and
// plain DARTS keeps its own defaults.
TEST(RunCommands, PcDartsRecipeIsTheMethodsDefault) {
  const json official = {{"batch_size", 256},        {"learning_rate", 0.1},
                         {"learning_rate_min", 0.0}, {"momentum", 0.9},
                         {"weight_decay", 3e-4},     {"epochs", 50},
                         {"grad_clip", 5.0},         {"train_portion", 0.5},
                         {"unrolled", false},        {"arch_learning_rate", 6e-4},
                         {"arch_beta1", 0.5},        {"arch_beta2", 0.999},
                         {"arch_weight_decay", 1e-3}, {"arch_frozen_epochs", 15},
                         {"partial_channels", 4},    {"channels", 16},
                         {"layers", 8},              {"seed", 2}};
  const json c = printed_config({"search", "--method", "pc-darts"});
  for (const auto& [key, value] : official.items()) EXPECT_EQ(c.at(key), value) << key;
  // The method named in a config file selects the recipe too; its other keys and flags win.
  const ConfigFile file(R"({"method": "pc-darts", "learning_rate": 0.05})");
  const json mine = printed_config({"search", "--config", file.path(), "--batch-size", "64",
                                    "--arch-frozen-epochs", "0", "--unrolled"});
  EXPECT_EQ(mine.at("learning_rate"), 0.05);
  EXPECT_EQ(mine.at("batch_size"), 64);
  EXPECT_EQ(mine.at("arch_frozen_epochs"), 0);
  EXPECT_EQ(mine.at("unrolled"), true);
  EXPECT_EQ(mine.at("arch_learning_rate"), 6e-4);  // not given: the recipe's
  EXPECT_EQ(mine.at("learning_rate_min"), 0.0);
  // DARTS: train_search.py of quark0/darts.
  const json darts = printed_config({"search"});
  EXPECT_EQ(darts, json(darts::SearchRunConfig{}));
  EXPECT_EQ(darts.at("batch_size"), 64);
  EXPECT_EQ(darts.at("arch_learning_rate"), 3e-4);
  // --help names the recipe's value beside the default.
  auto app = make_app();
  const auto help = help_entries(*app->get_subcommand("search"));
  EXPECT_NE(help.at("--batch-size").second.find("(--method pc-darts: 256)"), std::string::npos)
      << help.at("--batch-size").second;
  // Fewer epochs than the recipe's warm-up: α would never train, which is refused.
  expect_parts(run({"search", "--method", "pc-darts", "--epochs", "10", "--print-config"}).error,
               {"--arch-frozen-epochs (15) must be less than --epochs (10)", "pc-darts"});
}

// Issue 15: rnn-search --resume DIR --epochs 10 ignored the flags silently.
TEST(RunCommands, ResumeRefusesConfigFlags) {
  for (const std::string& command : kRunCommands) {
    expect_parts(run({command, "--resume", "no-such-run", "--epochs", "10"}).error,
                 {"--epochs cannot be combined with --resume"});
    expect_parts(run({command, "--resume", "no-such-run", "--learning-rate", "5"}).error,
                 {"--learning-rate cannot be combined with --resume"});
    expect_parts(run({command, "--resume", "no-such-run", "--out", "elsewhere"}).error,
                 {"--out cannot be combined with --resume"});
    // --device may come with it: the flags pass, the missing folder is what is refused.
    expect_parts(run({command, "--resume", "no-such-run", "--device", "cpu"}).error,
                 {"no-such-run"});
  }
}

// Issue 15: a wrong-typed value named neither key nor file; 4.7 became 4; inf was accepted.
TEST(RunCommands, ConfigFileValuesAreCheckedNamingFileAndKey) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {R"({"channels": 4.7})", {"'channels'", "must be an integer, got 4.7"}},
      {R"({"channels": "eight"})", {"'channels'", "must be an integer"}},
      {R"({"learning_rate": 1e999})", {"'learning_rate'", "1e999"}},
      {R"({"learning_rate": "fast"})", {"'learning_rate'", "must be a number"}},
      {R"({"seed": 18446744073709551615})", {"'seed'", "too large"}},
      {R"({"seed": 1e30})", {"'seed'", "too large"}},
      {R"({"unrolled": 1})", {"'unrolled'", "must be true or false"}},
      {R"({"layers": 2})", {"'layers'", "must be at least 3"}},
      {R"({"momentum": 1.5})", {"'momentum'", "must be in [0, 1)"}},
      {R"({"chanels": 8})", {"unknown key 'chanels'", "channels"}},
      {R"([1, 2])", {"JSON object"}},
  };
  for (const auto& [text, parts] : cases) {
    const ConfigFile file(text);
    std::vector<std::string> expected = parts;
    expected.push_back(file.path());
    expect_parts(run({"search", "--config", file.path(), "--print-config"}).error, expected);
  }
  const ConfigFile broken(R"({"epochs": 3,})");
  expect_parts(run({"search", "--config", broken.path(), "--print-config"}).error,
               {broken.path(), "not valid JSON", "line 1"});
}

TEST(RunCommands, FlagValuesAreCheckedNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"search", "--learning-rate", "inf"}, "--learning-rate must be a finite number"},
      {{"search", "--learning-rate", "1e999"}, "--learning-rate must be a finite number"},
      {{"train", "--learning-rate", "nan"}, "--learning-rate must be a finite number"},
      {{"search", "--channels", "4.7"}, "--channels must be an integer, got '4.7'"},
      {{"rnn-search", "--seed", "99999999999999999999"}, "--seed is out of range"},
      {{"search", "--momentum", "1"}, "--momentum must be in [0, 1)"},
      {{"train", "--epochs", "0"}, "--epochs must be at least 1"},
      {{"rnn-train", "--dropout", "-0.1"}, "--dropout must be in [0, 1)"},
      {{"rnn-search", "--grad-clip", "0"}, "--grad-clip must be positive"},
      {{"search", "--cutout", "--no-cutout"}, "--cutout and --no-cutout contradict each other"},
  };
  for (auto [args, part] : cases) {
    args.push_back("--print-config");
    expect_parts(run(args).error, {part});
  }
}

// The image-folder and ImageNet settings are table fields like the others: flags, config files
// and bounds (datasets/image_folder.h, darts/cnn/imagenet_model.h).
TEST(RunCommands, ImageFolderAndNetworkFields) {
  const json t = printed_config({"train", "--dataset", "folder", "--image-size", "64",
                                 "--skip-bad-images", "--network", "imagenet"});
  EXPECT_EQ(t.at("image_size"), 64);
  EXPECT_EQ(t.at("skip_bad_images"), true);
  EXPECT_EQ(t.at("compute_mean_std"), false);
  EXPECT_EQ(t.at("network"), "imagenet");
  const ConfigFile file(R"({"image_size": 32, "compute_mean_std": true})");
  const json s = printed_config({"search", "--config", file.path()});
  EXPECT_EQ(s.at("image_size"), 32);
  EXPECT_EQ(s.at("compute_mean_std"), true);
  expect_parts(run({"search", "--image-size", "-1", "--print-config"}).error,
               {"--image-size must be non-negative"});
  expect_parts(run({"train", "--network", "resnet", "--print-config"}).error,
               {"--network must be auto, cifar or imagenet"});
}

}  // namespace
}  // namespace autonet::apps
