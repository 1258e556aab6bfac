// The options object of a sampler, pruner, workload or budget, read with its types checked: every
// read names the owner and the field in its error ("sampler 'grid': \"points\" must be an
// integer, got \"5\""), and check_all_read() rejects the fields nobody read (misspellings).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hpsearch/json.h"

namespace autonet::hpsearch {

class OptionReader {
 public:
  // `owner` names the object in errors, e.g. "sampler 'tpe'" or "budget".
  OptionReader(const Json& object, std::string owner);

  bool has(const std::string& key) const { return object_.contains(key); }
  // For options that take a word or a number ("max_resource": "auto" or 27).
  bool is_text(const std::string& key) const { return has(key) && object_[key].is_string(); }
  double number(const std::string& key, double fallback);
  int64_t integer(const std::string& key, int64_t fallback);
  bool boolean(const std::string& key, bool fallback);
  std::string text(const std::string& key, const std::string& fallback);
  // An array of strings (empty when absent), an object of strings.
  std::vector<std::string> strings(const std::string& key);
  std::map<std::string, std::string> string_table(const std::string& key);
  // Throws for a field that no read asked for (the "name" field is always allowed).
  void check_all_read() const;
  const std::string& owner() const { return owner_; }

 private:
  const Json* field(const std::string& key);  // nullptr when absent (or null)
  const Json& object_;
  std::string owner_;
  std::set<std::string> read_{"name"};
};

}  // namespace autonet::hpsearch
