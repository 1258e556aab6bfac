#include "hpsearch/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kLogSqrt2Pi = 0.91893853320467274;  // log √(2π)

// log erfc(z), also where erfc underflows (z > 26): its asymptotic series.
double log_erfc(double z) {
  if (z < 25) return std::log(std::erfc(z));
  const double z2 = z * z;
  return -z2 - std::log(z) - 0.5 * std::log(M_PI) + std::log1p(-0.5 / z2 + 0.75 / (z2 * z2));
}

// log P(a ≤ Z ≤ b) for a standard normal Z, accurate in either tail.
double log_gauss_mass(double a, double b) {
  if (a >= 0) {  // upper tail: P = (erfc(a/√2) − erfc(b/√2)) / 2
    const double la = log_erfc(a / kSqrt2), lb = log_erfc(b / kSqrt2);
    return la + std::log1p(-std::exp(lb - la)) - std::log(2.0);
  }
  if (b <= 0) return log_gauss_mass(-b, -a);
  return std::log1p(-0.5 * (std::erfc(-a / kSqrt2) + std::erfc(b / kSqrt2)));
}

// A standard normal draw truncated to [a, b]. Every kernel's centre lies inside its truncation
// and σ ≤ the range, so [a, b] holds 0 and is at least 1 wide: each try succeeds with p ≥ 0.34.
double truncated_normal(SuggestionRng& rng, double a, double b) {
  for (int tries = 0; tries < 4096; ++tries) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 ∈ (0, 1]
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    if (z >= a && z <= b) return z;
  }
  return std::clamp(0.0, a, b);  // unreachable in practice (p < 1e-700)
}

double log_sum_exp(const double* x, size_t n) {
  const double m = *std::max_element(x, x + n);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  return m + std::log(s);
}

}  // namespace

std::vector<double> tpe_observation_weights(size_t n) {
  std::vector<double> w(n, 1.0);
  if (n < 25) return w;
  const size_t ramp = n - 25;
  const double first = 1.0 / static_cast<double>(n);
  for (size_t i = 0; i < ramp; ++i)  // numpy.linspace(1/n, 1, ramp)
    w[i] = ramp == 1 ? first : first + (1.0 - first) * static_cast<double>(i) / (ramp - 1);
  return w;
}

double ParzenEstimator::model(const Dim& d, double value) const {
  return d.spec.log ? std::log(value) : value;
}

ParzenEstimator::ParzenEstimator(std::vector<ParamSpec> params,
                                 const std::vector<Point>& observations,
                                 const std::vector<double>& weights, const ParzenOptions& options) {
  AN_CHECK(weights.size() == observations.size())
      << "ParzenEstimator: " << weights.size() << " weights for " << observations.size()
      << " observations";
  AN_CHECK(options.prior_weight > 0 && std::isfinite(options.prior_weight))
      << "ParzenEstimator: prior_weight must be positive, got " << options.prior_weight;
  const size_t n = observations.size();
  weights_ = weights;
  weights_.push_back(n == 0 ? 1.0 : options.prior_weight);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& w : weights_) {
    w /= total;
    log_weights_.push_back(std::log(w));
  }

  for (size_t j = 0; j < params.size(); ++j) {
    Dim d;
    d.spec = std::move(params[j]);
    if (!d.spec.numeric()) {
      const size_t choices = d.spec.choices.size();
      const double floor = options.prior_weight / static_cast<double>(n + 1);
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> p(choices, floor);
        p[static_cast<size_t>(observations[i][j])] += 1.0;
        const double sum = floor * static_cast<double>(choices) + 1.0;
        for (double& v : p) v /= sum;
        d.p.push_back(std::move(p));
      }
      d.p.emplace_back(choices, 1.0 / static_cast<double>(choices));  // the prior
      dims_.push_back(std::move(d));
      continue;
    }
    const double half = d.spec.type == ParamType::Int ? 0.5 : 0.0;
    d.low = model(d, d.spec.low - half);
    d.high = model(d, d.spec.high + half);
    const double range = d.high - d.low;
    for (const Point& x : observations) d.mu.push_back(model(d, x[j]));
    // Widths from the sorted centres with the bounds as outer neighbours.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d.mu[a] < d.mu[b]; });
    std::vector<double> sorted{d.low};
    for (size_t i : order) sorted.push_back(d.mu[i]);
    sorted.push_back(d.high);
    d.sigma.assign(n, 0.0);
    const double min_sigma =
        options.consider_magic_clip ? range / std::min(100.0, static_cast<double>(n) + 2.0) : 1e-12;
    for (size_t r = 0; r < n; ++r) {
      const double left = sorted[r + 1] - sorted[r], right = sorted[r + 2] - sorted[r + 1];
      double sigma = std::max(left, right);
      if (!options.consider_endpoints && n >= 2) {
        if (r == 0) sigma = right;
        if (r == n - 1) sigma = left;
      }
      d.sigma[order[r]] = std::clamp(sigma, min_sigma, range);
    }
    d.mu.push_back(0.5 * (d.low + d.high));  // the prior
    d.sigma.push_back(range);
    for (size_t k = 0; k <= n; ++k) {
      const double mu = d.mu[k], sigma = d.sigma[k];
      d.log_norm.push_back(log_gauss_mass((d.low - mu) / sigma, (d.high - mu) / sigma) +
                           (d.spec.type == ParamType::Int ? 0.0 : kLogSqrt2Pi + std::log(sigma)));
    }
    dims_.push_back(std::move(d));
  }
}

void ParzenEstimator::add_log_pdfs(const Dim& d, const std::vector<double>& values,
                                   std::vector<double>& terms) const {
  const size_t kernels = weights_.size();
  if (!d.spec.numeric()) {
    for (size_t i = 0; i < values.size(); ++i)
      for (size_t k = 0; k < kernels; ++k)
        terms[i * kernels + k] += std::log(d.p[k][static_cast<size_t>(values[i])]);
    return;
  }
  if (d.spec.type == ParamType::Float) {
    for (size_t i = 0; i < values.size(); ++i) {
      const double t = model(d, values[i]);
      for (size_t k = 0; k < kernels; ++k) {
        const double z = (t - d.mu[k]) / d.sigma[k];
        terms[i * kernels + k] += -0.5 * z * z - d.log_norm[k];
      }
    }
    return;
  }
  // An int's mass on its cell [v − ½, v + ½] depends on the value alone: once per distinct value.
  std::map<double, std::vector<double>> masses;
  for (const double v : values) {
    auto [it, fresh] = masses.try_emplace(v);
    if (!fresh) continue;
    const double left = model(d, v - 0.5), right = model(d, v + 0.5);
    for (size_t k = 0; k < kernels; ++k) {
      const double mu = d.mu[k], sigma = d.sigma[k];
      it->second.push_back(log_gauss_mass((left - mu) / sigma, (right - mu) / sigma) - d.log_norm[k]);
    }
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const std::vector<double>& mass = masses.at(values[i]);
    for (size_t k = 0; k < kernels; ++k) terms[i * kernels + k] += mass[k];
  }
}

double ParzenEstimator::log_pdf(const Point& x) const { return log_pdfs({x})[0]; }

std::vector<double> ParzenEstimator::log_pdfs(const std::vector<Point>& xs) const {
  const size_t kernels = weights_.size();
  std::vector<double> terms(xs.size() * kernels);  // [point][kernel]: log w_k + Σ_d log kernel_k,d
  for (size_t i = 0; i < xs.size(); ++i) {
    AN_CHECK(xs[i].size() == dims_.size()) << "ParzenEstimator: a point of " << xs[i].size()
                                           << " values for " << dims_.size() << " parameters";
    std::copy(log_weights_.begin(), log_weights_.end(), terms.begin() + static_cast<ptrdiff_t>(i * kernels));
  }
  std::vector<double> values(xs.size());
  for (size_t j = 0; j < dims_.size(); ++j) {
    for (size_t i = 0; i < xs.size(); ++i) values[i] = xs[i][j];
    add_log_pdfs(dims_[j], values, terms);
  }
  std::vector<double> out(xs.size());
  for (size_t i = 0; i < xs.size(); ++i)
    out[i] = log_sum_exp(terms.data() + i * kernels, kernels);
  return out;
}

Point ParzenEstimator::sample(SuggestionRng& rng) const {
  // The kernel: inverse CDF of the weights (the last one catches rounding).
  const double u = rng.uniform();
  size_t k = 0;
  for (double cum = weights_[0]; k + 1 < weights_.size() && u >= cum; cum += weights_[++k]) {}
  Point x(dims_.size());
  for (size_t j = 0; j < dims_.size(); ++j) {
    const Dim& d = dims_[j];
    if (!d.spec.numeric()) {
      const double v = rng.uniform();
      size_t c = 0;
      for (double cum = d.p[k][0]; c + 1 < d.p[k].size() && v >= cum; cum += d.p[k][++c]) {}
      x[j] = static_cast<double>(c);
      continue;
    }
    const double mu = d.mu[k], sigma = d.sigma[k];
    const double t = mu + sigma * truncated_normal(rng, (d.low - mu) / sigma, (d.high - mu) / sigma);
    double value = d.spec.log ? std::exp(t) : t;
    if (d.spec.type == ParamType::Int) value = std::round(value);
    x[j] = std::clamp(value, d.spec.low, d.spec.high);
  }
  return x;
}

}  // namespace autonet::hpsearch
