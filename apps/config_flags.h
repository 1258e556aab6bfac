// The command-line side of a run config's table (darts/tasks/config_table.h): a flag per field with
// its help and its true default, and a config resolved as defaults ← --config file ← flags, then
// the presets these select for the fields left unset; each bad value refused naming the file and
// key or the flag.
#pragma once
#include <CLI/CLI.hpp>
#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "darts/tasks/config_table.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::apps {

template <class Config>
class ConfigFlags {
 public:
  // Registers the flags of the fields that `scope` uses, showing `defaults` in --help.
  ConfigFlags(CLI::App* cmd, const Config& defaults, darts::Scope scope)
      : cmd_(cmd), defaults_(defaults), scope_(scope) {
    for (const darts::ConfigField<Config>& field : Config::table().fields())
      if (uses(field)) add(field);
  }
  ConfigFlags(const ConfigFlags&) = delete;  // CLI11 holds references into flags_
  ConfigFlags& operator=(const ConfigFlags&) = delete;

  // The config flags given on the command line ("--epochs", ...).
  std::vector<std::string> given() const {
    std::vector<std::string> names;
    for (const Flag& f : flags_) {
      if (f.on->count() > 0) names.push_back(f.on->get_name());
      if (f.off && f.off->count() > 0) names.push_back(f.off->get_name());
    }
    return names;
  }
  // The text given to a field's flag ("" when not given).
  std::string text(const std::string& key) const {
    for (const Flag& f : flags_)
      if (f.field->key == key && f.on->count() > 0) return f.text;
    return "";
  }

  // A new run's config and the keys that the file or the flags set.
  struct Resolved {
    Config config;
    std::vector<std::string> keys_set;
    bool set(const std::string& key) const {
      return std::find(keys_set.begin(), keys_set.end(), key) != keys_set.end();
    }
  };
  // The defaults, then the --config file (when given), then the flags given, then the presets
  // these select (darts::apply_presets) for the fields neither gave. The caller validates the
  // whole (cross-field rules name the flags).
  Resolved resolve(const std::string& config_file) const {
    Resolved r{defaults_, {}};
    if (!config_file.empty()) read_file(config_file, r);
    for (const Flag& f : flags_) {
      const darts::ConfigField<Config>& field = *f.field;
      if (f.off && f.off->count() > 0) {
        AN_CHECK(f.on->count() == 0) << field.flag() << " and " << field.off_name()
                                     << " contradict each other: give one";
        field.set(r.config, false);
      }
      if (f.on->count() > 0) {
        const std::string problem =
            field.is_bool() ? field.set(r.config, true) : field.set_text(r.config, f.text);
        AN_CHECK(problem.empty()) << field.flag() << " " << problem;
      }
      if (f.on->count() > 0 || (f.off && f.off->count() > 0)) r.keys_set.push_back(field.key);
    }
    darts::apply_presets(r.config, r.keys_set, scope_);
    return r;
  }

 private:
  struct Flag {
    const darts::ConfigField<Config>* field;
    std::string text;
    CLI::Option* on = nullptr;   // --name [VALUE]
    CLI::Option* off = nullptr;  // bool fields: --no-name
  };

  bool uses(const darts::ConfigField<Config>& field) const {
    return field.scope == darts::Scope::any || field.scope == scope_;
  }

  // " (--method pc-darts: 256)" for each preset of this command that sets the field to another
  // value than the default.
  std::string preset_help(const darts::ConfigField<Config>& field) const {
    std::string text;
    for (const darts::ConfigPreset<Config>& p : Config::table().presets())
      for (const auto& [key, value] : p.values)
        if (key == field.key && p.used_by(scope_) && value != field.get(defaults_))
          text += " (" + p.when + ": " + value.dump() + ")";
    return text;
  }

  void add(const darts::ConfigField<Config>& field) {
    Flag& f = flags_.emplace_back(Flag{&field, {}});
    const nlohmann::json value = field.get(defaults_);
    if (field.is_bool()) {
      const std::string state = value.get<bool>() ? "on" : "off";
      const std::string on_help = field.help + " (default: " + state + ")" + preset_help(field);
      const std::string off_help = "turns " + field.flag() + " off";
      f.on = cmd_->add_flag(field.flag(), on_help);
      f.off = cmd_->add_flag(field.off_name(), off_help);
      f.off->group(field.group);
    } else {
      const std::string shown = !value.is_string()            ? value.dump()
                                : value.get<std::string>().empty() ? "\"\""
                                                                    : value.get<std::string>();
      f.on = cmd_->add_option(field.flag(), f.text, field.help + preset_help(field))
                 ->type_name(field.is_text() ? "TEXT" : field.is_integer() ? "INT" : "FLOAT")
                 ->default_str(shown)
                 // A later flag wins (scripts/run appends the user's flags to its own).
                 ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    f.on->group(field.group);
  }

  void read_file(const std::string& path, Resolved& r) const {
    const nlohmann::json j = run::read_json_file(path);
    AN_CHECK(j.is_object()) << path << ": a config file holds a JSON object of config keys, got "
                            << j.dump().substr(0, 80);
    for (const auto& [key, value] : j.items()) {
      const darts::ConfigField<Config>* field = Config::table().find(key);
      AN_CHECK(!field || uses(*field))
          << path << ": '" << key << "' is not a setting of " << cmd_->get_name() << ": only "
          << (field->scope == darts::Scope::search ? "a search" : "a training") << " uses it";
    }
    try {
      r.config = darts::config_from_json(j, cmd_->get_name(), r.config);
    } catch (const Error& e) {
      AN_THROW() << path << ": " << e.message();
    }
    for (const auto& [key, value] : j.items()) {
      const std::string problem = Config::table().find(key)->check(r.config);
      AN_CHECK(problem.empty()) << path << ": '" << key << "' " << problem;
      r.keys_set.push_back(key);
    }
  }

  CLI::App* cmd_;
  Config defaults_;
  darts::Scope scope_;
  std::deque<Flag> flags_;  // a deque: CLI11 binds to each Flag's text, which must not move
};

}  // namespace autonet::apps
