#include "hpsearch/study.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hpsearch/options.h"
#include "hpsearch/toml_reader.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

StudyConfig StudyConfig::from_json(const Json& config) {
  AN_CHECK(config.is_object()) << "a study config must be a JSON object";
  static const std::set<std::string> known{"name",     "seed",   "direction", "objective",
                                           "space",    "sampler", "pruner",   "workload",
                                           "budget",   "enqueue_defaults"};
  for (const auto& [key, _] : config.items())
    AN_CHECK(known.count(key)) << "study config: unknown field \"" << key << "\"";
  StudyConfig c;
  OptionReader top(config, "study config");
  c.name = top.text("name", c.name);
  const int64_t seed = top.integer("seed", 0);
  AN_CHECK(seed >= 0) << "study config: \"seed\" must be >= 0, got " << seed;
  c.seed = static_cast<uint64_t>(seed);
  c.direction = parse_direction(top.text("direction", "minimize"));
  c.objective = top.text("objective", c.objective);
  c.enqueue_defaults = top.boolean("enqueue_defaults", false);
  AN_CHECK(config.contains("space")) << "study config: missing \"space\"";
  c.space = Space::from_json(config["space"]);
  if (config.contains("sampler")) c.sampler = config["sampler"];
  if (config.contains("pruner")) c.pruner = config["pruner"];
  if (config.contains("workload")) c.workload = config["workload"];
  AN_CHECK(c.workload.is_object() && c.workload.contains("name") && c.workload["name"].is_string())
      << "study config: \"workload\" must be an object with a \"name\"";
  if (config.contains("budget")) {
    const Json& b = config["budget"];
    AN_CHECK(b.is_object()) << "study config: \"budget\" must be an object";
    for (const auto& [key, _] : b.items())
      AN_CHECK(key == "trials" || key == "wall_s" || key == "trial_s" || key == "retries")
          << "study config: unknown budget field \"" << key << "\" (trials, wall_s, trial_s, retries)";
    OptionReader budget(b, "study config: budget");
    c.budget.trials = budget.integer("trials", c.budget.trials);
    c.budget.wall_s = budget.number("wall_s", c.budget.wall_s);
    c.budget.trial_s = budget.number("trial_s", c.budget.trial_s);
    c.budget.retries = static_cast<int>(std::clamp<int64_t>(budget.integer("retries", c.budget.retries), -1, 1 << 20));
    AN_CHECK(c.budget.trials >= 1 && c.budget.wall_s >= 0 && c.budget.trial_s >= 0 &&
             c.budget.retries >= 0)
        << "study config: budget values must be >= 0 (trials >= 1)";
  }
  c.make_sampler();  // validates the sampler against the space
  c.make_pruner();
  return c;
}

Json StudyConfig::to_json() const {
  return {{"name", name},
          {"seed", seed},
          {"direction", direction_name(direction)},
          {"objective", objective},
          {"space", space.to_json()},
          {"sampler", sampler},
          {"pruner", pruner},
          {"workload", workload},
          {"budget",
           {{"trials", budget.trials},
            {"wall_s", budget.wall_s},
            {"trial_s", budget.trial_s},
            {"retries", budget.retries}}},
          {"enqueue_defaults", enqueue_defaults}};
}

std::unique_ptr<Sampler> StudyConfig::make_sampler() const {
  return hpsearch::make_sampler(sampler, space, seed, direction);
}

std::unique_ptr<Pruner> StudyConfig::make_pruner() const {
  return hpsearch::make_pruner(pruner, direction);
}

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  AN_CHECK(in) << "cannot read study config '" << path << "'";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool validates(const Json& config) {
  try {
    StudyConfig::from_json(config);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// The line of the TOML key a validation error comes from: a space parameter that fails on its
// own, else the first top-level key whose removal makes the config valid; 0 when neither.
int64_t culprit_line(const TomlDocument& doc) {
  const Json& config = doc.value;
  if (config.is_object() && config.contains("space") && config["space"].is_object()) {
    for (const auto& [name, spec] : config["space"].items()) {
      try {
        Space::from_json(Json{{name, spec}});
      } catch (const Error&) {
        return doc.line_of(json_pointer_child(json_pointer_child("", "space"), name));
      }
    }
  }
  if (!config.is_object()) return 0;
  for (const auto& [key, _] : config.items()) {
    if (key == "space") continue;
    Json without = config;
    without.erase(key);
    if (validates(without)) return doc.line_of(json_pointer_child("", key));
  }
  return config.contains("space") ? doc.line_of(json_pointer_child("", "space")) : 0;
}

StudyConfig load_toml_study_config(const std::string& path, const std::string& text) {
  const TomlDocument doc = parse_toml(text, "study config '" + path + "'");
  try {
    return StudyConfig::from_json(doc.value);
  } catch (const Error& e) {
    const int64_t line = culprit_line(doc);
    if (line > 0) AN_THROW() << "study config '" << path << "', line " << line << ": " << e.message();
    AN_THROW() << "study config '" << path << "': " << e.message();
  }
}

}  // namespace

StudyConfig load_study_config(const std::string& path) {
  const std::string text = read_text(path);
  if (std::filesystem::path(path).extension() == ".toml") return load_toml_study_config(path, text);
  Json config;
  try {
    config = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    AN_THROW() << "study config '" << path << "' is not valid JSON: " << e.what();
  }
  try {
    return StudyConfig::from_json(config);
  } catch (const Error& e) {
    AN_THROW() << "study config '" << path << "': " << e.message();
  }
}

}  // namespace autonet::hpsearch
