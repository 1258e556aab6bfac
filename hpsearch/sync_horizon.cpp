#include "hpsearch/sync_horizon.h"

#include <algorithm>
#include <limits>
#include <string>

#include "hpsearch/store.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

SyncHorizon SyncHorizon::load(StudyStore& store, int64_t next_trial, int64_t workers) {
  const int64_t want = std::max<int64_t>(0, workers - 1);
  std::vector<Segment> segments;
  const auto first = store.meta("sync_lag");
  if (!first) {
    store.set_meta("sync_lag", std::to_string(want));
    return SyncHorizon({{0, want}});
  }
  segments.push_back({0, std::stoll(*first)});
  Json changes = Json::array();
  if (const auto text = store.meta("sync_lag_changes")) changes = Json::parse(*text);
  for (const Json& c : changes) segments.push_back({c.at(0).get<int64_t>(), c.at(1).get<int64_t>()});
  if (want > segments.back().lag) {
    AN_CHECK(next_trial >= segments.back().first_trial) << "sync horizon: segments out of order";
    if (next_trial == segments.back().first_trial) {
      segments.back().lag = want;  // no trial was created under the last segment yet
    } else {
      segments.push_back({next_trial, want});
    }
    if (segments.size() == 1) {
      store.set_meta("sync_lag", std::to_string(want));
    } else {
      Json stored = Json::array();
      for (size_t i = 1; i < segments.size(); ++i)
        stored.push_back({segments[i].first_trial, segments[i].lag});
      store.set_meta("sync_lag_changes", stored.dump());
    }
  }
  return SyncHorizon(std::move(segments));
}

int64_t SyncHorizon::of(int64_t trial) const {
  int64_t floor = std::numeric_limits<int64_t>::min();
  size_t i = 0;
  for (; i + 1 < segments_.size() && trial >= segments_[i + 1].first_trial; ++i)
    floor = std::max(floor, segments_[i + 1].first_trial - segments_[i].lag);
  return std::max(floor, trial - segments_[i].lag);
}

std::vector<const TrialRecord*> SyncHorizon::peers(const std::vector<TrialRecord>& trials, int64_t n) const {
  std::vector<const TrialRecord*> out;
  for (int64_t m = 0; m < of(n) && m < static_cast<int64_t>(trials.size()); ++m)
    if (is_finished(trials[m].state)) out.push_back(&trials[m]);
  return out;
}

}  // namespace autonet::hpsearch
