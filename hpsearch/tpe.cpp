#include "hpsearch/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "hpsearch/options.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

TpeOptions TpeOptions::read(OptionReader& options) {
  TpeOptions o;
  o.multivariate = options.boolean("multivariate", o.multivariate);
  o.n_startup_trials = options.integer("n_startup_trials", o.n_startup_trials);
  o.n_ei_candidates = options.integer("n_ei_candidates", o.n_ei_candidates);
  o.parzen.prior_weight = options.number("prior_weight", o.parzen.prior_weight);
  o.parzen.consider_magic_clip = options.boolean("consider_magic_clip", o.parzen.consider_magic_clip);
  o.parzen.consider_endpoints = options.boolean("consider_endpoints", o.parzen.consider_endpoints);
  const std::string& owner = options.owner();
  AN_CHECK(o.n_startup_trials >= 0) << owner << ": n_startup_trials must be >= 0, got "
                                    << o.n_startup_trials;
  AN_CHECK(o.n_ei_candidates >= 1 && o.n_ei_candidates <= 100000)
      << owner << ": n_ei_candidates must be in [1, 100000], got " << o.n_ei_candidates;
  AN_CHECK(o.parzen.prior_weight > 0) << owner << ": prior_weight must be positive, got "
                                      << o.parzen.prior_weight;
  return o;
}

std::unique_ptr<Sampler> make_tpe_sampler(OptionReader& options, const SamplerContext& context) {
  return std::make_unique<TpeSampler>(context.space, context.seed, TpeOptions::read(options),
                                      context.direction);
}

int64_t tpe_gamma(int64_t n) { return std::min<int64_t>((n + 9) / 10, 25); }  // min(⌈0.1·n⌉, 25)

TpeSampler::TpeSampler(Space space, uint64_t seed, TpeOptions options, Direction direction)
    : space_(std::move(space)),
      seed_(seed),
      options_(options),
      direction_(direction),
      startup_(space_, seed) {}

void TpeSampler::tell(const TrialRecord& trial) {
  ++told_;
  Observation o;
  o.number = trial.number;
  if (trial.state == TrialState::Complete) {
    const std::optional<double> loss = loss_of(trial, direction_);
    if (!loss) return;
    o.complete = true;
    o.loss = *loss;
  } else if (trial.state == TrialState::Pruned) {
    // Optuna ranks a pruned trial by its last step, then by its value there.
    o.loss = std::numeric_limits<double>::infinity();
    for (const Intermediate& r : trial.intermediate)
      if (r.step >= o.last_step) {
        o.last_step = r.step;
        const double loss = direction_ == Direction::Minimize ? r.value : -r.value;
        o.loss = std::isnan(loss) ? std::numeric_limits<double>::infinity() : loss;
      }
  } else {
    return;  // failed trials teach nothing
  }
  o.x = space_.point_from_json(trial.params);
  observations_.push_back(std::move(o));
}

Json TpeSampler::state() const {
  int64_t complete = 0;
  for (const Observation& o : observations_) complete += o.complete;
  return {{"told", told_},
          {"complete", complete},
          {"pruned", static_cast<int64_t>(observations_.size()) - complete}};
}

std::pair<std::vector<TpeSampler::Observation>, std::vector<TpeSampler::Observation>>
TpeSampler::split() const {
  std::vector<const Observation*> complete, pruned;
  for (const Observation& o : observations_) (o.complete ? complete : pruned).push_back(&o);
  // Stable sorts: ties keep trial-number order, as Python's sorted does.
  std::stable_sort(complete.begin(), complete.end(),
                   [](const Observation* a, const Observation* b) { return a->loss < b->loss; });
  std::stable_sort(pruned.begin(), pruned.end(), [](const Observation* a, const Observation* b) {
    // No report at all ranks last (Optuna's score (1, 0.0) after every (−step, value)).
    const int64_t sa = a->last_step > 0 ? -a->last_step : 1, sb = b->last_step > 0 ? -b->last_step : 1;
    if (sa != sb) return sa < sb;
    return a->loss < b->loss;
  });
  size_t n_below = static_cast<size_t>(tpe_gamma(static_cast<int64_t>(observations_.size())));
  std::vector<const Observation*> ranked = complete;
  ranked.insert(ranked.end(), pruned.begin(), pruned.end());
  std::vector<Observation> below, above;
  for (size_t i = 0; i < ranked.size(); ++i) (i < n_below ? below : above).push_back(*ranked[i]);
  auto by_number = [](const Observation& a, const Observation& b) { return a.number < b.number; };
  std::sort(below.begin(), below.end(), by_number);
  std::sort(above.begin(), above.end(), by_number);
  return {below, above};
}

Point TpeSampler::sample_joint(SuggestionRng& rng, const std::vector<Observation>& below,
                               const std::vector<Observation>& above,
                               const std::vector<size_t>& dims) const {
  std::vector<ParamSpec> params;
  for (size_t d : dims) params.push_back(space_[d]);
  auto estimator = [&](const std::vector<Observation>& group) {
    std::vector<Point> xs;
    for (const Observation& o : group) {
      Point x;
      for (size_t d : dims) x.push_back(o.x[d]);
      xs.push_back(std::move(x));
    }
    return ParzenEstimator(params, xs, tpe_observation_weights(xs.size()), options_.parzen);
  };
  const ParzenEstimator l = estimator(below), g = estimator(above);
  std::vector<Point> candidates;
  for (int64_t c = 0; c < options_.n_ei_candidates; ++c) candidates.push_back(l.sample(rng));
  const std::vector<double> log_l = l.log_pdfs(candidates), log_g = g.log_pdfs(candidates);
  size_t best = 0;
  for (size_t c = 1; c < candidates.size(); ++c)  // the first of equal scores, as numpy's argmax
    if (log_l[c] - log_g[c] > log_l[best] - log_g[best]) best = c;
  return candidates[best];
}

std::optional<Json> TpeSampler::ask(int64_t index) {
  if (static_cast<int64_t>(observations_.size()) < options_.n_startup_trials)
    return startup_.ask(index);
  SuggestionRng rng(seed_, index);
  const auto [below, above] = split();
  Point x(space_.size());
  if (options_.multivariate) {
    std::vector<size_t> all(space_.size());
    std::iota(all.begin(), all.end(), 0);
    x = sample_joint(rng, below, above, all);
  } else {
    for (size_t d = 0; d < space_.size(); ++d) x[d] = sample_joint(rng, below, above, {d})[0];
  }
  return space_.params_json(x);
}

}  // namespace autonet::hpsearch
