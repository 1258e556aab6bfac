// A table of named factories (samplers, pruners, workloads): registered explicitly (static
// registrars get dropped from static libraries), looked up by the config's "name", and an unknown
// name is an error that lists the known ones.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace autonet::hpsearch {

template <class Entry>
class Registry {
 public:
  // `kind` names the table in errors ("sampler", "pruner", "workload").
  Registry(std::string kind, std::map<std::string, Entry> builtins)
      : kind_(std::move(kind)), entries_(std::move(builtins)) {}

  void add(const std::string& name, Entry entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[name] = std::move(entry);
  }

  Entry find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    std::string known;
    for (const auto& [n, _] : entries_) known += (known.empty() ? "" : ", ") + n;
    AN_THROW() << "unknown " << kind_ << " '" << name << "' (known: " << known << ")";
  }

  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [n, _] : entries_) out.push_back(n);
    return out;
  }

 private:
  std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace autonet::hpsearch
