#include "hpsearch/pruner.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "hpsearch/options.h"
#include "hpsearch/registry.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// A peer's value at `step` (direction applied), if it reported one.
std::optional<double> value_at(const TrialRecord& peer, int64_t step, Direction direction) {
  for (const Intermediate& r : peer.intermediate)
    if (r.step == step && std::isfinite(r.value))
      return direction == Direction::Minimize ? r.value : -r.value;
  return std::nullopt;
}

template <class P>
std::unique_ptr<Pruner> make(OptionReader& options) {
  return std::make_unique<P>(options);
}

Registry<PrunerFactory>& pruners() {
  static Registry<PrunerFactory> r(
      "pruner", {{"none", make<NopPruner>}, {"median", make<MedianPruner>}, {"asha", make<AshaPruner>}});
  return r;
}

}  // namespace

Pruner::Pruner(OptionReader& options) {
  if (options.has("diverge_above")) diverge_above_ = options.number("diverge_above", 0);
  if (options.has("diverge_below")) diverge_below_ = options.number("diverge_below", 0);
}

PruneDecision Pruner::decide(const std::vector<Intermediate>& losses,
                             const std::vector<const TrialRecord*>& peers, Direction direction,
                             int64_t last_step) const {
  AN_CHECK(!losses.empty()) << "pruner: no reported value to decide on";
  const Intermediate& last = losses.back();
  const double raw = direction == Direction::Minimize ? last.value : -last.value;
  std::ostringstream why;
  if (!std::isfinite(last.value)) {
    why << "diverged: value " << raw << " at step " << last.step;
    return {true, why.str()};
  }
  if (direction == Direction::Minimize && diverge_above_ && raw > *diverge_above_) {
    why << "diverged: value " << raw << " above " << *diverge_above_ << " at step " << last.step;
    return {true, why.str()};
  }
  if (direction == Direction::Maximize && diverge_below_ && raw < *diverge_below_) {
    why << "diverged: value " << raw << " below " << *diverge_below_ << " at step " << last.step;
    return {true, why.str()};
  }
  if (last_step > 0 && last.step >= last_step) return {};  // finished anyway: keep its result
  return rule(losses, peers, direction);
}

void register_pruner(const std::string& name, PrunerFactory factory) {
  pruners().add(name, std::move(factory));
}

std::unique_ptr<Pruner> make_pruner(const Json& config, Direction direction) {
  AN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string())
      << "the pruner must be an object with a \"name\" (none, median, asha), got " << config.dump();
  const std::string name = config["name"].get<std::string>();
  const PrunerFactory factory = pruners().find(name);
  OptionReader options(config, "pruner '" + name + "'");
  std::unique_ptr<Pruner> pruner = factory(options);
  options.check_all_read();
  // The wrong threshold for the direction would stop the best trials (a high accuracy is not
  // a divergence): refuse it rather than guess.
  AN_CHECK(direction == Direction::Minimize || !config.contains("diverge_above"))
      << "pruner '" << name << "': \"diverge_above\" applies to a minimised objective; this "
         "study maximises, use \"diverge_below\"";
  AN_CHECK(direction == Direction::Maximize || !config.contains("diverge_below"))
      << "pruner '" << name << "': \"diverge_below\" applies to a maximised objective; this "
         "study minimises, use \"diverge_above\"";
  return pruner;
}

MedianPruner::MedianPruner(OptionReader& options) : Pruner(options) {
  startup_trials_ = static_cast<int>(options.integer("startup_trials", startup_trials_));
  warmup_steps_ = static_cast<int>(options.integer("warmup_steps", warmup_steps_));
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
    if (p->state == TrialState::Complete)
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
      << " of " << n << " complete trials";
  return {true, why.str()};
}

AshaPruner::AshaPruner(OptionReader& options) : Pruner(options) {
  min_resource_ = options.integer("min_resource", min_resource_);
  reduction_factor_ = options.integer("reduction_factor", reduction_factor_);
  AN_CHECK(min_resource_ >= 1 && reduction_factor_ >= 2)
      << "pruner 'asha': min_resource >= 1 and reduction_factor >= 2 expected";
}

namespace {
OptionReader& as_lvalue(OptionReader&& reader) { return reader; }  // lives to the end of the call
}  // namespace

AshaPruner::AshaPruner(const Json& config)
    : AshaPruner(as_lvalue(OptionReader(config, "pruner 'asha'"))) {}

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
