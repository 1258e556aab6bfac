#include "hpsearch/toml_reader.h"

#include <algorithm>
#include <vector>

#include "runtime/error.h"

#if AUTONET_HAVE_TOMLPP
#define TOML_HEADER_ONLY 1  // the implementation compiles into this file: no run-time dependency
#include <toml++/toml.h>
#endif

namespace autonet::hpsearch {

int64_t TomlDocument::line_of(const std::string& pointer) const {
  const auto it = lines.find(pointer);
  return it == lines.end() ? 0 : it->second;
}

std::string json_pointer_child(const std::string& parent, const std::string& key) {
  std::string out = parent + "/";
  for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

#if AUTONET_HAVE_TOMLPP

namespace {

bool before(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

class Converter {
 public:
  Converter(TomlDocument& doc, const std::string& source) : doc_(doc), source_(source) {}

  Json convert(const toml::node& node, const std::string& pointer) {
    if (const toml::table* table = node.as_table()) {
      // toml++ keeps keys sorted; the file order is what a space needs.
      std::vector<std::pair<const toml::key*, const toml::node*>> entries;
      for (auto&& [key, value] : *table) entries.emplace_back(&key, &value);
      std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return before(a.first->source().begin, b.first->source().begin);
      });
      Json out = Json::object();
      for (const auto& [key, value] : entries) {
        const std::string name(key->str());
        const std::string child = json_pointer_child(pointer, name);
        doc_.lines[child] = key->source().begin.line;
        out[name] = convert(*value, child);
      }
      return out;
    }
    if (const toml::array* array = node.as_array()) {
      Json out = Json::array();
      for (size_t i = 0; i < array->size(); ++i) {
        const std::string child = pointer + "/" + std::to_string(i);
        doc_.lines[child] = (*array)[i].source().begin.line;
        out.push_back(convert((*array)[i], child));
      }
      return out;
    }
    if (const auto* s = node.as_string()) return s->get();
    if (const auto* i = node.as_integer()) return i->get();
    if (const auto* f = node.as_floating_point()) return f->get();
    if (const auto* b = node.as_boolean()) return b->get();
    AN_THROW() << source_ << ", line " << node.source().begin.line
               << ": dates and times have no JSON equivalent; write them as strings";
  }

 private:
  TomlDocument& doc_;
  const std::string& source_;
};

}  // namespace

TomlDocument parse_toml(const std::string& text, const std::string& source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    AN_THROW() << source << " is not valid TOML: line " << e.source().begin.line
               << ", column " << e.source().begin.column << ": " << e.description();
  }
  TomlDocument doc;
  doc.value = Converter(doc, source).convert(table, "");
  return doc;
}

bool toml_supported() { return true; }

#else

TomlDocument parse_toml(const std::string&, const std::string& source) {
  AN_THROW() << source << ": this build reads no TOML (toml++ was not found when it was "
                "configured: install libtomlplusplus-dev, scripts/install-deps); use JSON";
}

bool toml_supported() { return false; }

#endif

}  // namespace autonet::hpsearch
