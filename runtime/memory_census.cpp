#include "runtime/memory_census.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

namespace autonet {
namespace {

constexpr const char* kUnlabelled = "(unlabelled)";

struct Live {
  size_t bytes = 0;
  const char* label = kUnlabelled;
};

struct Totals {
  size_t bytes = 0;
  int64_t tensors = 0;
};

struct Census {
  std::mutex mutex;
  std::atomic<bool> running{false};
  Device device;
  std::unordered_map<const void*, Live> live;
  std::unordered_map<const char*, Totals> by_label;  // labels are string literals
  size_t live_bytes = 0, peak_bytes = 0;
  std::unordered_map<const char*, Totals> at_peak;

  void move(const Live& entry, const char* to_label) {
    Totals& from = by_label[entry.label];
    from.bytes -= entry.bytes;
    --from.tensors;
    Totals& to = by_label[to_label];
    to.bytes += entry.bytes;
    ++to.tensors;
  }
};

Census& census() {
  static Census c;
  return c;
}

}  // namespace

void memory_census_start(Device device) {
  Census& c = census();
  std::lock_guard lock(c.mutex);
  c.device = device;
  c.live.clear();
  c.by_label.clear();
  c.at_peak.clear();
  c.live_bytes = c.peak_bytes = 0;
  c.running = true;
}

void memory_census_stop() { census().running = false; }

CensusReport memory_census_at_peak() {
  Census& c = census();
  std::lock_guard lock(c.mutex);
  // Labels are merged by text: one literal may live at several addresses.
  std::map<std::string, CensusRow> merged;
  for (const auto& [label, totals] : c.at_peak) {
    if (totals.tensors == 0) continue;
    CensusRow& row = merged[label];
    row.label = label;
    row.tensors += totals.tensors;
    row.bytes += totals.bytes;
  }
  CensusReport report;
  report.peak_bytes = c.peak_bytes;
  for (auto& [label, row] : merged) report.rows.push_back(std::move(row));
  std::sort(report.rows.begin(), report.rows.end(),
            [](const CensusRow& a, const CensusRow& b) { return a.bytes > b.bytes; });
  return report;
}

bool memory_census_counts(Device device) {
  Census& c = census();
  return c.running.load(std::memory_order_relaxed) && c.device == device;
}

void memory_census_add(const void* owner, size_t bytes) {
  Census& c = census();
  std::lock_guard lock(c.mutex);
  if (!c.running) return;
  c.live[owner] = Live{bytes, kUnlabelled};
  Totals& t = c.by_label[kUnlabelled];
  t.bytes += bytes;
  ++t.tensors;
  c.live_bytes += bytes;
  if (c.live_bytes > c.peak_bytes) {
    c.peak_bytes = c.live_bytes;
    c.at_peak = c.by_label;
  }
}

void memory_census_label(const void* owner, const char* label) {
  Census& c = census();
  std::lock_guard lock(c.mutex);
  auto it = c.live.find(owner);
  if (it == c.live.end() || it->second.label != kUnlabelled) return;  // the first name stays
  c.move(it->second, label);
  it->second.label = label;
}

void memory_census_remove(const void* owner) {
  Census& c = census();
  std::lock_guard lock(c.mutex);
  auto it = c.live.find(owner);
  if (it == c.live.end()) return;  // created before this census
  Totals& t = c.by_label[it->second.label];
  t.bytes -= it->second.bytes;
  --t.tensors;
  c.live_bytes -= it->second.bytes;
  c.live.erase(it);
}

}  // namespace autonet
