#include "hpsearch/options.h"

#include <cmath>

#include "runtime/error.h"

namespace autonet::hpsearch {

OptionReader::OptionReader(const Json& object, std::string owner)
    : object_(object), owner_(std::move(owner)) {
  AN_CHECK(object.is_object()) << owner_ << ": expected an object, got " << object.dump();
}

const Json* OptionReader::field(const std::string& key) {
  read_.insert(key);
  if (!object_.contains(key) || object_[key].is_null()) return nullptr;
  return &object_[key];
}

double OptionReader::number(const std::string& key, double fallback) {
  const Json* v = field(key);
  if (!v) return fallback;
  AN_CHECK(v->is_number()) << owner_ << ": \"" << key << "\" must be a number, got " << v->dump();
  const double x = v->get<double>();
  AN_CHECK(std::isfinite(x)) << owner_ << ": \"" << key << "\" must be finite";
  return x;
}

int64_t OptionReader::integer(const std::string& key, int64_t fallback) {
  const Json* v = field(key);
  if (!v) return fallback;
  const bool whole = v->is_number_integer() ||
                     (v->is_number_float() && std::nearbyint(v->get<double>()) == v->get<double>() &&
                      std::abs(v->get<double>()) < 9e15);
  AN_CHECK(whole) << owner_ << ": \"" << key << "\" must be an integer, got " << v->dump();
  return v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(v->get<double>());
}

bool OptionReader::boolean(const std::string& key, bool fallback) {
  const Json* v = field(key);
  if (!v) return fallback;
  AN_CHECK(v->is_boolean()) << owner_ << ": \"" << key << "\" must be true or false, got " << v->dump();
  return v->get<bool>();
}

std::string OptionReader::text(const std::string& key, const std::string& fallback) {
  const Json* v = field(key);
  if (!v) return fallback;
  AN_CHECK(v->is_string()) << owner_ << ": \"" << key << "\" must be a string, got " << v->dump();
  return v->get<std::string>();
}

std::vector<std::string> OptionReader::strings(const std::string& key) {
  const Json* v = field(key);
  std::vector<std::string> out;
  if (!v) return out;
  AN_CHECK(v->is_array()) << owner_ << ": \"" << key << "\" must be an array of strings, got " << v->dump();
  for (const Json& item : *v) {
    AN_CHECK(item.is_string()) << owner_ << ": \"" << key << "\" must hold strings only, got " << item.dump();
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> OptionReader::string_table(const std::string& key) {
  const Json* v = field(key);
  std::map<std::string, std::string> out;
  if (!v) return out;
  AN_CHECK(v->is_object()) << owner_ << ": \"" << key << "\" must be an object of strings, got " << v->dump();
  for (const auto& [name, item] : v->items()) {
    AN_CHECK(item.is_string()) << owner_ << ": \"" << key << "." << name << "\" must be a string, got "
                               << item.dump();
    out[name] = item.get<std::string>();
  }
  return out;
}

void OptionReader::check_all_read() const {
  std::string known;
  for (const std::string& k : read_)
    if (k != "name") known += (known.empty() ? "" : ", ") + k;
  for (const auto& [key, _] : object_.items())
    AN_CHECK(read_.count(key)) << owner_ << ": unknown option \"" << key << "\""
                               << (known.empty() ? " (it takes none)" : " (known: " + known + ")");
}

}  // namespace autonet::hpsearch
