#include "hpsearch/pruner.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

void check_options(const Json& config, const std::set<std::string>& known) {
  for (const auto& [key, _] : config.items())
    AN_CHECK(key == "name" || key == "diverge_above" || known.count(key))
        << "pruner '" << config["name"].get<std::string>() << "': unknown option \"" << key << "\"";
}

// A peer's value at `step` (direction applied), if it reported one.
std::optional<double> value_at(const TrialRecord& peer, int64_t step, Direction direction) {
  for (const Intermediate& r : peer.intermediate)
    if (r.step == step && std::isfinite(r.value))
      return direction == Direction::Minimize ? r.value : -r.value;
  return std::nullopt;
}

}  // namespace

Pruner::Pruner(const Json& config) : config_(config) {
  if (config.contains("diverge_above")) {
    AN_CHECK(config["diverge_above"].is_number()) << "pruner: diverge_above must be a number";
    diverge_above_ = config["diverge_above"].get<double>();
  }
}

PruneDecision Pruner::decide(const std::vector<Intermediate>& losses,
                             const std::vector<const TrialRecord*>& peers, Direction direction) const {
  AN_CHECK(!losses.empty()) << "pruner: no reported value to decide on";
  const Intermediate& last = losses.back();
  const double raw = direction == Direction::Minimize ? last.value : -last.value;
  std::ostringstream why;
  if (!std::isfinite(last.value)) {
    why << "diverged: value " << raw << " at step " << last.step;
    return {true, why.str()};
  }
  if (diverge_above_ && raw > *diverge_above_) {
    why << "diverged: value " << raw << " above " << *diverge_above_ << " at step " << last.step;
    return {true, why.str()};
  }
  return rule(losses, peers, direction);
}

std::unique_ptr<Pruner> make_pruner(const Json& config) {
  AN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string())
      << "the pruner must be an object with a \"name\" (none, median, asha), got " << config.dump();
  const std::string name = config["name"].get<std::string>();
  if (name == "none") {
    check_options(config, {});
    return std::make_unique<NopPruner>(config);
  }
  if (name == "median") return std::make_unique<MedianPruner>(config);
  if (name == "asha") return std::make_unique<AshaPruner>(config);
  AN_THROW() << "unknown pruner '" << name << "' (expected none, median or asha)";
}

MedianPruner::MedianPruner(const Json& config) : Pruner(config) {
  check_options(config, {"startup_trials", "warmup_steps"});
  startup_trials_ = config.value("startup_trials", startup_trials_);
  warmup_steps_ = config.value("warmup_steps", warmup_steps_);
  AN_CHECK(startup_trials_ >= 1 && warmup_steps_ >= 0)
      << "pruner 'median': startup_trials >= 1 and warmup_steps >= 0 expected";
}

PruneDecision MedianPruner::rule(const std::vector<Intermediate>& losses,
                                 const std::vector<const TrialRecord*>& peers,
                                 Direction direction) const {
  const int64_t step = losses.back().step;
  if (step <= warmup_steps_) return {};
  int completed = 0;
  for (const TrialRecord* p : peers) completed += p->state == TrialState::Complete;
  if (completed < startup_trials_) return {};
  std::vector<double> others;
  for (const TrialRecord* p : peers)
    if (auto v = value_at(*p, step, direction)) others.push_back(*v);
  if (others.empty()) return {};
  std::sort(others.begin(), others.end());
  const size_t n = others.size();
  const double median = n % 2 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
  double best = losses.front().value;
  for (const Intermediate& r : losses) best = std::min(best, r.value);
  if (best <= median) return {};
  std::ostringstream why;
  why << "median rule: best " << (direction == Direction::Minimize ? best : -best) << " by step "
      << step << " worse than the median " << (direction == Direction::Minimize ? median : -median)
      << " of " << n << " trials";
  return {true, why.str()};
}

AshaPruner::AshaPruner(const Json& config) : Pruner(config) {
  check_options(config, {"min_resource", "reduction_factor"});
  min_resource_ = config.value("min_resource", min_resource_);
  reduction_factor_ = config.value("reduction_factor", reduction_factor_);
  AN_CHECK(min_resource_ >= 1 && reduction_factor_ >= 2)
      << "pruner 'asha': min_resource >= 1 and reduction_factor >= 2 expected";
}

bool AshaPruner::is_rung(int64_t step) const {
  for (int64_t r = min_resource_; r <= step; r *= reduction_factor_)
    if (r == step) return true;
  return false;
}

PruneDecision AshaPruner::rule(const std::vector<Intermediate>& losses,
                               const std::vector<const TrialRecord*>& peers,
                               Direction direction) const {
  const int64_t step = losses.back().step;
  if (!is_rung(step)) return {};
  const double mine = losses.back().value;
  std::vector<double> rung{mine};
  for (const TrialRecord* p : peers)
    if (auto v = value_at(*p, step, direction)) rung.push_back(*v);
  std::sort(rung.begin(), rung.end());
  const size_t keep = std::max<size_t>(1, rung.size() / static_cast<size_t>(reduction_factor_));
  if (mine <= rung[keep - 1]) return {};
  std::ostringstream why;
  why << "asha: not in the best " << keep << " of " << rung.size() << " at rung step " << step;
  return {true, why.str()};
}

}  // namespace autonet::hpsearch
