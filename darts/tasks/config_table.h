// One mechanism for every run config (SearchRunConfig, TrainRunConfig, RnnRunConfig): each config
// has a table with a line per field — key, member, help, bounds — and everything else derives
// from it: JSON in and out (unknown keys and wrong types refused, naming the key), the
// command-line flags with their help and true defaults (apps/config_flags.h), the per-field
// checks of validate() and the fields a hyperparameter study may search.
//
//   const ConfigTable<SearchRunConfig>& SearchRunConfig::table() {
//     using C = SearchRunConfig;
//     static const ConfigTable<C> t({
//         {"Network", {{"layers", &C::layers, "L: cells", at_least(3)}, ...}}, ...});
//     return t;
//   }
//
// A key is the flag's name with _ for - (batch_size ↔ --batch-size). Integer fields take only
// integers (4.7 is refused, not truncated) that fit int64; number fields only finite numbers.
//
// A table may also hold presets: defaults that another field's value selects (the PC-DARTS
// recipe for --method pc-darts, rnn-train's WikiText-2 sizes). apply_presets() gives them to the
// fields a user left unset, so flags and config-file keys still win.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/error.h"

namespace autonet::darts {

// The numbers a field accepts: an interval, either end open, closed or unbounded.
struct Bounds {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false, high_open = false;
  std::string why;  // a reason, added to the message in parentheses

  bool contains(double v) const;  // false for NaN
  std::string text() const;       // "at least 3", "positive", "non-negative", "in [0, 1)"
};
Bounds at_least(double low, std::string why = "");
Bounds positive();
Bounds non_negative();
Bounds closed(double low, double high);     // [low, high]
Bounds half_open(double low, double high);  // [low, high)
Bounds open(double low, double high);       // (low, high)

// Which command of a config shared by a search and a training (RNN) uses a field.
enum class Scope { any, search, train };

// One field of a config: read and written through its member pointer.
template <class Config>
struct ConfigField {
  using Member = std::variant<int64_t Config::*, double Config::*, bool Config::*,
                              std::string Config::*>;

  ConfigField(std::string key, Member member, std::string help, Bounds bounds = {})
      : key(std::move(key)), member(member), help(std::move(help)), bounds(std::move(bounds)) {}
  // A setting of how the run is carried out (seed, device, threads, logging): never searched.
  ConfigField fixed() && {
    searchable = false;
    return std::move(*this);
  }
  ConfigField only(Scope s) && {
    scope = s;
    return std::move(*this);
  }
  // A bool field's flag that turns it off, when not --no-<flag> (--first-order for unrolled).
  ConfigField off_flag(std::string flag) && {
    off = std::move(flag);
    return std::move(*this);
  }

  bool is_bool() const { return std::holds_alternative<bool Config::*>(member); }
  bool is_text() const { return std::holds_alternative<std::string Config::*>(member); }
  bool is_integer() const { return std::holds_alternative<int64_t Config::*>(member); }
  std::string flag() const;       // "--batch-size" for batch_size
  std::string off_name() const;   // bool fields: "--no-cutout", or the one given
  nlohmann::json get(const Config& c) const;
  // Sets the field from a JSON value or a flag's text; returns "" or the problem ("must be an
  // integer, got 4.7"), for the caller to prefix with the key or the flag.
  std::string set(Config& c, const nlohmann::json& value) const;
  std::string set_text(Config& c, const std::string& text) const;
  // "" or the problem with the field's value in `c` ("must be at least 3 (why), got 2").
  std::string check(const Config& c) const;

  std::string key;
  Member member;
  std::string help;
  Bounds bounds;
  bool searchable = true;  // numbers and bools a study may search (text fields never)
  Scope scope = Scope::any;
  std::string off;
  std::string group;  // the heading of the flag in --help
};

// Defaults selected by the value of other fields: a method's or a data set's recipe.
template <class Config>
struct ConfigPreset {
  std::string when;  // what selects it, as users write it: "--method pc-darts"
  std::function<bool(const Config&)> applies;
  std::vector<std::pair<std::string, nlohmann::json>> values;  // key → the preset's value
  Scope scope = Scope::any;  // the command that uses it (rnn-train's: Scope::train)

  bool used_by(Scope command) const { return scope == Scope::any || scope == command; }
};

// A config's fields, in groups: the headings of --help (groups of one name show as one), and
// its presets.
template <class Config>
class ConfigTable {
 public:
  struct Group {
    std::string name;
    std::vector<ConfigField<Config>> fields;
  };
  explicit ConfigTable(std::vector<Group> groups, std::vector<ConfigPreset<Config>> presets = {})
      : presets_(std::move(presets)) {
    for (Group& g : groups)
      for (ConfigField<Config>& f : g.fields) {
        f.group = g.name;
        fields_.push_back(std::move(f));
      }
    // A preset's values must fit their fields: checked once, on a default config.
    for (const ConfigPreset<Config>& p : presets_)
      for (const auto& [key, value] : p.values) {
        const ConfigField<Config>* f = find(key);
        AN_CHECK(f) << "preset for " << p.when << ": unknown key '" << key << "'";
        Config c;
        const std::string problem = f->set(c, value);
        AN_CHECK(problem.empty() && f->check(c).empty())
            << "preset for " << p.when << ": '" << key << "' " << problem << f->check(c);
      }
  }
  const std::vector<ConfigField<Config>>& fields() const { return fields_; }
  const std::vector<ConfigPreset<Config>>& presets() const { return presets_; }
  const ConfigField<Config>* find(const std::string& key) const {
    for (const ConfigField<Config>& f : fields_)
      if (f.key == key) return &f;
    return nullptr;
  }
  std::string keys() const {  // "a, b, c": for messages
    std::string out;
    for (const ConfigField<Config>& f : fields_) out += (out.empty() ? "" : ", ") + f.key;
    return out;
  }

 private:
  std::vector<ConfigField<Config>> fields_;
  std::vector<ConfigPreset<Config>> presets_;
};

// The value readers behind ConfigField::set and set_text: "" or the problem.
std::string read_json(const nlohmann::json& v, int64_t& out);
std::string read_json(const nlohmann::json& v, double& out);
std::string read_json(const nlohmann::json& v, bool& out);
std::string read_json(const nlohmann::json& v, std::string& out);
std::string read_text(const std::string& s, int64_t& out);
std::string read_text(const std::string& s, double& out);
std::string read_text(const std::string& s, bool& out);
std::string read_text(const std::string& s, std::string& out);
std::string bounds_problem(const Bounds& b, double value);  // "" when inside
std::string flag_of(const std::string& key);                // batch_size → --batch-size

template <class Config>
std::string ConfigField<Config>::flag() const {
  return flag_of(key);
}

template <class Config>
std::string ConfigField<Config>::off_name() const {
  return off.empty() ? "--no-" + flag().substr(2) : off;
}

template <class Config>
nlohmann::json ConfigField<Config>::get(const Config& c) const {
  return std::visit([&](auto m) { return nlohmann::json(c.*m); }, member);
}

template <class Config>
std::string ConfigField<Config>::set(Config& c, const nlohmann::json& value) const {
  return std::visit([&](auto m) { return read_json(value, c.*m); }, member);
}

template <class Config>
std::string ConfigField<Config>::set_text(Config& c, const std::string& text) const {
  return std::visit([&](auto m) { return read_text(text, c.*m); }, member);
}

template <class Config>
std::string ConfigField<Config>::check(const Config& c) const {
  if (auto m = std::get_if<int64_t Config::*>(&member))
    return bounds_problem(bounds, static_cast<double>(c.**m));
  if (auto m = std::get_if<double Config::*>(&member)) return bounds_problem(bounds, c.**m);
  return "";
}

// Every field's value under its key.
template <class Config>
nlohmann::json config_to_json(const Config& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const ConfigField<Config>& f : Config::table().fields()) j[f.key] = f.get(c);
  return j;
}

// `base` with the values of a JSON object; unknown keys and wrong types are errors naming the
// key (a misspelt key must not be ignored silently). `what` names the config in messages.
template <class Config>
Config config_from_json(const nlohmann::json& j, const std::string& what, Config base = {}) {
  const ConfigTable<Config>& table = Config::table();
  AN_CHECK(j.is_object()) << "the " << what << " config must be a JSON object, got " << j.dump();
  for (const auto& [key, value] : j.items()) {
    const ConfigField<Config>* f = table.find(key);
    AN_CHECK(f) << "unknown key '" << key << "' in the " << what
                << " config (known keys: " << table.keys() << ")";
    const std::string problem = f->set(base, value);
    AN_CHECK(problem.empty()) << "bad value in the " << what << " config: '" << key << "' "
                              << problem;
  }
  return base;
}

// Gives the presets of `scope` that `c` selects to the fields `keys_set` (the keys a flag or a
// config file gave) leaves alone; a preset is selected by the values after the user's settings.
template <class Config>
void apply_presets(Config& c, const std::vector<std::string>& keys_set, Scope scope) {
  for (const ConfigPreset<Config>& p : Config::table().presets()) {
    if (!p.used_by(scope) || !p.applies(c)) continue;
    for (const auto& [key, value] : p.values)
      if (std::find(keys_set.begin(), keys_set.end(), key) == keys_set.end())
        (void)Config::table().find(key)->set(c, value);  // checked when the table was built
  }
}

// Throws for the first field outside its bounds, naming its flag ("--layers must be at least 3").
template <class Config>
void check_fields(const Config& c) {
  for (const ConfigField<Config>& f : Config::table().fields()) {
    const std::string problem = f.check(c);
    AN_CHECK(problem.empty()) << f.flag() << " " << problem;
  }
}

// The keys of the fields a hyperparameter study may search: numbers and bools of the run's
// method, not the data, device, seed or logging.
template <class Config>
std::vector<std::string> searchable_keys() {
  std::vector<std::string> keys;
  for (const ConfigField<Config>& f : Config::table().fields())
    if (f.searchable && !f.is_text()) keys.push_back(f.key);
  return keys;
}

}  // namespace autonet::darts
