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
      "pruner", {{"none", make<NopPruner>},
                 {"median", make<MedianPruner>},
                 {"asha", make<AshaPruner>},
                 {"hyperband", make<HyperbandPruner>}});
  return r;
}

}  // namespace

Pruner::Pruner(OptionReader& options) {
  if (options.has("diverge_above")) diverge_above_ = options.number("diverge_above", 0);
  if (options.has("diverge_below")) diverge_below_ = options.number("diverge_below", 0);
}

PruneDecision Pruner::decide(const std::vector<Intermediate>& losses,
                             const std::vector<const TrialRecord*>& peers, Direction direction,
                             int64_t last_step, int64_t trial) const {
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
  return rule({losses, peers, direction, last_step, trial});
}

void register_pruner(const std::string& name, PrunerFactory factory) {
  pruners().add(name, std::move(factory));
}

std::unique_ptr<Pruner> make_pruner(const Json& config, Direction direction) {
  AN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string())
      << "the pruner must be an object with a \"name\" (none, median, asha, hyperband), got "
      << config.dump();
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

PruneDecision MedianPruner::rule(const PruneQuery& query) const {
  const auto& [losses, peers, direction, last_step, trial] = query;
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

namespace {

OptionReader& as_lvalue(OptionReader&& reader) { return reader; }  // lives to the end of the call

// The successive halving options shared by asha and hyperband.
SuccessiveHalving read_halving(OptionReader& options) {
  SuccessiveHalving h;
  h.min_resource = options.integer("min_resource", h.min_resource);
  h.reduction_factor = options.integer("reduction_factor", h.reduction_factor);
  AN_CHECK(h.min_resource >= 1 && h.reduction_factor >= 2)
      << options.owner() << ": min_resource >= 1 and reduction_factor >= 2 expected, got "
      << h.min_resource << " and " << h.reduction_factor;
  return h;
}

}  // namespace

bool SuccessiveHalving::is_rung(int64_t step) const {
  int64_t r = min_resource;
  for (int64_t k = 0; k < min_early_stopping_rate && r <= step; ++k) r *= reduction_factor;
  for (; r <= step; r *= reduction_factor)
    if (r == step) return true;
  return false;
}

PruneDecision SuccessiveHalving::decide(const PruneQuery& query,
                                        const std::vector<const TrialRecord*>& peers) const {
  const int64_t step = query.losses.back().step;
  if (!is_rung(step)) return {};
  const double mine = query.losses.back().value;
  std::vector<double> rung{mine};
  for (const TrialRecord* p : peers)
    if (auto v = value_at(*p, step, query.direction)) rung.push_back(*v);
  std::sort(rung.begin(), rung.end());
  const size_t keep = std::max<size_t>(1, rung.size() / static_cast<size_t>(reduction_factor));
  if (mine <= rung[keep - 1]) return {};
  std::ostringstream why;
  why << "not in the best " << keep << " of " << rung.size() << " at rung step " << step;
  return {true, why.str()};
}

AshaPruner::AshaPruner(OptionReader& options) : Pruner(options), halving_(read_halving(options)) {
  halving_.min_early_stopping_rate =
      options.integer("min_early_stopping_rate", halving_.min_early_stopping_rate);
  AN_CHECK(halving_.min_early_stopping_rate >= 0)
      << "pruner 'asha': min_early_stopping_rate >= 0 expected, got "
      << halving_.min_early_stopping_rate;
}

AshaPruner::AshaPruner(const Json& config)
    : AshaPruner(as_lvalue(OptionReader(config, "pruner 'asha'"))) {}

PruneDecision AshaPruner::rule(const PruneQuery& query) const {
  PruneDecision d = halving_.decide(query, query.peers);
  if (d.prune) d.reason = "asha: " + d.reason;
  return d;
}

HyperbandPruner::HyperbandPruner(OptionReader& options) : Pruner(options) {
  const SuccessiveHalving h = read_halving(options);
  min_resource_ = h.min_resource;
  reduction_factor_ = h.reduction_factor;
  if (options.is_text("max_resource")) {
    const std::string word = options.text("max_resource", "auto");
    AN_CHECK(word == "auto") << "pruner 'hyperband': \"max_resource\" must be an integer or "
                                "\"auto\", got \"" << word << "\"";
  } else {
    max_resource_ = options.integer("max_resource", 0);
    AN_CHECK(!options.has("max_resource") || max_resource_ >= min_resource_)
        << "pruner 'hyperband': max_resource (" << max_resource_ << ") must be >= min_resource ("
        << min_resource_ << ")";
  }
}

HyperbandPruner::HyperbandPruner(const Json& config)
    : HyperbandPruner(as_lvalue(OptionReader(config, "pruner 'hyperband'"))) {}

std::vector<int64_t> HyperbandPruner::bracket_budgets(int64_t max_resource) const {
  int64_t brackets = 1;  // ⌊log_η(R / r)⌋ + 1, in integers
  for (int64_t r = min_resource_ * reduction_factor_; r <= max_resource; r *= reduction_factor_)
    ++brackets;
  std::vector<int64_t> budgets;
  for (int64_t b = 0; b < brackets; ++b) {
    const int64_t s = brackets - 1 - b;
    int64_t eta_s = 1;
    for (int64_t i = 0; i < s; ++i) eta_s *= reduction_factor_;
    budgets.push_back((brackets * eta_s + s) / (s + 1));  // ⌈B·η^s / (s + 1)⌉
  }
  return budgets;
}

int64_t HyperbandPruner::bracket_of(int64_t number, int64_t max_resource) const {
  const std::vector<int64_t> budgets = bracket_budgets(max_resource);
  int64_t total = 0;
  for (int64_t b : budgets) total += b;
  int64_t n = static_cast<int64_t>(splitmix64(static_cast<uint64_t>(number)) %
                                   static_cast<uint64_t>(total));
  for (size_t b = 0; b < budgets.size(); ++b) {
    n -= budgets[b];
    if (n < 0) return static_cast<int64_t>(b);
  }
  return static_cast<int64_t>(budgets.size()) - 1;  // unreachable
}

PruneDecision HyperbandPruner::rule(const PruneQuery& query) const {
  int64_t max_resource = max_resource_ ? max_resource_ : query.last_step;
  if (!max_resource)  // "auto" without a last step from the workload: the complete peers'
    for (const TrialRecord* p : query.peers)
      if (p->state == TrialState::Complete && !p->intermediate.empty())
        max_resource = std::max(max_resource, p->intermediate.back().step);
  if (!max_resource) return {};
  const int64_t bracket = bracket_of(query.trial, max_resource);
  std::vector<const TrialRecord*> same_bracket;
  for (const TrialRecord* p : query.peers)
    if (bracket_of(p->number, max_resource) == bracket) same_bracket.push_back(p);
  const SuccessiveHalving halving{min_resource_, reduction_factor_, bracket};
  PruneDecision d = halving.decide(query, same_bracket);
  if (d.prune) d.reason = "hyperband bracket " + std::to_string(bracket) + ": " + d.reason;
  return d;
}

}  // namespace autonet::hpsearch
