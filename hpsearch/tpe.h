// The Tree-structured Parzen Estimator (Bergstra et al. 2011) as Optuna's TPESampler (its default
// sampler) does it:
//
//   {"name": "tpe", "multivariate": true, "n_startup_trials": 10, "n_ei_candidates": 24,
//    "prior_weight": 1.0, "consider_magic_clip": true, "consider_endpoints": false}
//
// The first `n_startup_trials` suggestions (counting complete and pruned trials told) are random.
// Then the told trials are split: the best gamma(n) = min(⌈0.1·n⌉, 25) of the n complete and
// pruned ones are "below" (complete trials by loss first; pruned ones fill what is left, those
// stopped at a later step first, then by their last reported loss), the rest "above"; failed
// trials are ignored. A Parzen estimator is fitted to each group (parzen_estimator.h, observation
// weights in trial-number order), `n_ei_candidates` points are drawn from the below one l(x), and
// the one with the largest log l(x) − log g(x) is suggested. `multivariate` (Optuna's default for
// one objective) models all parameters jointly; false models and picks each one on its own.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "hpsearch/parzen_estimator.h"
#include "hpsearch/sampler.h"

namespace autonet::hpsearch {

struct TpeOptions {
  bool multivariate = true;
  int64_t n_startup_trials = 10;
  int64_t n_ei_candidates = 24;
  ParzenOptions parzen;
  static TpeOptions read(OptionReader& options);
};

// The registry's factory for "tpe".
std::unique_ptr<Sampler> make_tpe_sampler(OptionReader& options, const SamplerContext& context);

// Optuna's default_gamma: how many of n trials form the "below" group.
int64_t tpe_gamma(int64_t n);

class TpeSampler : public Sampler {
 public:
  // A told trial as TPE sees it.
  struct Observation {
    int64_t number = 0;
    Point x;
    bool complete = false;  // else pruned
    double loss = 0;        // complete: the loss; pruned: the loss at its last step (NaN: +inf)
    int64_t last_step = 0;  // pruned: the last reported step (0: none reported)
  };

  TpeSampler(Space space, uint64_t seed, TpeOptions options = {},
             Direction direction = Direction::Minimize);
  std::string name() const override { return "tpe"; }
  std::optional<Json> ask(int64_t index) override;
  void tell(const TrialRecord& trial) override;
  Json state() const override;

  // The observations split into (below, above), each in trial-number order.
  std::pair<std::vector<Observation>, std::vector<Observation>> split() const;

 private:
  Point sample_joint(SuggestionRng& rng, const std::vector<Observation>& below,
                     const std::vector<Observation>& above,
                     const std::vector<size_t>& dims) const;

  Space space_;
  uint64_t seed_;
  TpeOptions options_;
  Direction direction_;
  RandomSampler startup_;  // the first n_startup_trials suggestions
  std::vector<Observation> observations_;
  int64_t told_ = 0;
};

}  // namespace autonet::hpsearch
