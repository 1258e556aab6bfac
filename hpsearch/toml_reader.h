// TOML documents read into the JSON hpsearch works on, so a study config may be written in
// either (load_study_config picks by file extension). Tables keep their file order (a space's
// parameter order decides which random numbers each parameter gets) and every key remembers its
// line, so errors can point at it. Needs toml++ (Debian's libtomlplusplus-dev, used header-only);
// without it, reading TOML throws saying so.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "hpsearch/json.h"

namespace autonet::hpsearch {

struct TomlDocument {
  Json value = Json::object();
  std::map<std::string, int64_t> lines;  // JSON pointer ("/space/lr") → 1-based line of its key
  // The line of a key (0 when unknown).
  int64_t line_of(const std::string& pointer) const;
};

// Parses `text`; throws autonet::Error naming `source` (e.g. "study config 'x.toml'"), the line and column of a
// syntax error, or the line of a value JSON cannot hold (dates and times).
TomlDocument parse_toml(const std::string& text, const std::string& source);

// JSON pointer of a child key: "/space" + "lr" → "/space/lr" (with ~ and / escaped).
std::string json_pointer_child(const std::string& parent, const std::string& key);

// Whether this build reads TOML.
bool toml_supported();

}  // namespace autonet::hpsearch
