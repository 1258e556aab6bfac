// The Parzen estimator of TPE (Bergstra et al. 2011) with Optuna's rules: a weighted mixture of
// one kernel per observation plus one prior kernel, each kernel a product over the parameters.
//
//   numeric parameter, in model space t (log(value) for log ones; an int's range widened by ½ on
//   each side, as the space's unit cube does):
//     kernel i: a normal N(t(x_i), σ_i) truncated to [t_low, t_high]; the prior N(mid, t_high − t_low)
//     σ_i = the larger gap to its sorted neighbours (t_low/t_high stand beside the outermost
//           ones; with two or more observations the outermost take their inner gap only, unless
//           `consider_endpoints`), clipped to [range / min(100, n + 2), range] ("magic clip";
//           without it the floor is 1e-12)
//     an int's mass is the kernel's mass on [t(k − ½), t(k + ½)] (its draws round to integers)
//   categorical with K choices, n observations:
//     kernel i: p(c) ∝ prior_weight / (n + 1) + [c = c_i]; the prior kernel: uniform
//   mixture weights: the observations' weights (oldest first), then prior_weight; normalised.
//
// Densities are used as ratios (l(x)/g(x) in the same model space), so a log parameter's density
// needs no Jacobian.
#pragma once
#include <vector>

#include "hpsearch/rng.h"
#include "hpsearch/space.h"

namespace autonet::hpsearch {

struct ParzenOptions {
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
};

// Optuna's default observation weights: 1 each below 25 observations; beyond that the oldest
// n − 25 ramp linearly from 1/n up to 1 (oldest first) and the newest 25 weigh 1.
std::vector<double> tpe_observation_weights(size_t n);

class ParzenEstimator {
 public:
  // `observations[i]` holds one value per parameter of `params` (internal units: numeric values,
  // category indices); `weights[i]` its weight (same length).
  ParzenEstimator(std::vector<ParamSpec> params, const std::vector<Point>& observations,
                  const std::vector<double>& weights, const ParzenOptions& options = {});

  // A draw from the mixture (internal units, ints integral, within the bounds).
  Point sample(SuggestionRng& rng) const;
  // log density of `x` (internal units): Σ over parameters of the kernels' log densities (an
  // int's log mass, a categorical's log probability), mixed with the weights.
  double log_pdf(const Point& x) const;
  // The same for many points at once (TPE's candidates): an int's log masses are computed once
  // per distinct value among them.
  std::vector<double> log_pdfs(const std::vector<Point>& xs) const;

  size_t kernels() const { return weights_.size(); }
  const std::vector<double>& weights() const { return weights_; }
  // Parameter d's kernel centres and widths in model space (numeric parameters; the prior last).
  const std::vector<double>& mus(size_t d) const { return dims_[d].mu; }
  const std::vector<double>& sigmas(size_t d) const { return dims_[d].sigma; }

 private:
  struct Dim {
    ParamSpec spec;
    double low = 0, high = 0;             // model-space bounds of the truncation
    std::vector<double> mu, sigma;        // numeric: one per kernel
    // numeric: per kernel, the log of what divides its density, computed once: the kernel's mass
    // inside the bounds (a float's density also divides by σ√(2π))
    std::vector<double> log_norm;
    std::vector<std::vector<double>> p;   // categorical: p[kernel][choice]
  };
  double model(const Dim& d, double value) const;  // value → model space
  // Adds each kernel's log density of parameter d at the points' values to terms[point][kernel].
  void add_log_pdfs(const Dim& d, const std::vector<double>& values, std::vector<double>& terms) const;

  std::vector<Dim> dims_;
  std::vector<double> weights_;  // normalised, the prior's last
  std::vector<double> log_weights_;
};

}  // namespace autonet::hpsearch
