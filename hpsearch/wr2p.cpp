// WR2P, reference/hpsearch.md §1.4, implemented literally:
//   init u⁽¹⁾ = ⅓·1, u⁽²⁾ = ⅔·1; keep the best two (u1, v1), (u2, v2) with v1 ≤ v2;
//   with probability `explore` draw uniformly from the whole unit cube; otherwise pick anchor k
//   with p_k ∝ w_k (1/v, softmax or rank), and draw uniformly from the anchor's Voronoi cell
//   inside B = Π_d [min(u1_d,u2_d) − δ_d, max(u1_d,u2_d) + δ_d] ∩ [0,1],
//   δ_d = max(α·|u1_d − u2_d|, δ_min). Categoricals keep the anchor's category with probability
//   1 − cat_explore. The per-dimension variant picks the anchor's side of the midpoint per
//   coordinate instead (the seed's behaviour, without its bugs).
#include <cmath>
#include <algorithm>

#include "hpsearch/options.h"
#include "hpsearch/sampler.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

Wr2pOptions Wr2pOptions::read(OptionReader& options) {
  Wr2pOptions o;
  const std::string weights = options.text("weights", "inverse");
  if (weights == "inverse") o.weights = Weights::Inverse;
  else if (weights == "softmax") o.weights = Weights::Softmax;
  else if (weights == "rank") o.weights = Weights::Rank;
  else AN_THROW() << "sampler 'wr2p': weights must be inverse, softmax or rank, got \"" << weights << "\"";
  const std::string mode = options.text("mode", "voronoi");
  if (mode == "voronoi") o.mode = Mode::Voronoi;
  else if (mode == "per_dim") o.mode = Mode::PerDim;
  else AN_THROW() << "sampler 'wr2p': mode must be voronoi or per_dim, got \"" << mode << "\"";
  o.temperature = options.number("temperature", o.temperature);
  o.epsilon = options.number("epsilon", o.epsilon);
  o.alpha = options.number("alpha", o.alpha);
  o.delta_min = options.number("delta_min", o.delta_min);
  o.explore = options.number("explore", o.explore);
  o.cat_explore = options.number("cat_explore", o.cat_explore);
  o.max_rejections = static_cast<int>(std::clamp<int64_t>(
      options.integer("max_rejections", o.max_rejections), 0, 1 << 30));
  AN_CHECK(o.temperature > 0) << "sampler 'wr2p': temperature must be > 0";
  AN_CHECK(o.epsilon > 0) << "sampler 'wr2p': epsilon must be > 0";
  AN_CHECK(o.alpha >= 0 && o.delta_min >= 0) << "sampler 'wr2p': alpha and delta_min must be >= 0";
  AN_CHECK(o.explore >= 0 && o.explore <= 1 && o.cat_explore >= 0 && o.cat_explore <= 1)
      << "sampler 'wr2p': explore and cat_explore are probabilities in [0, 1]";
  AN_CHECK(o.max_rejections >= 1) << "sampler 'wr2p': max_rejections must be >= 1";
  return o;
}

Json Wr2pOptions::to_json() const {
  const char* w = weights == Weights::Inverse ? "inverse" : weights == Weights::Softmax ? "softmax" : "rank";
  return {{"name", "wr2p"},       {"weights", w},
          {"mode", mode == Mode::Voronoi ? "voronoi" : "per_dim"},
          {"temperature", temperature}, {"epsilon", epsilon}, {"alpha", alpha},
          {"delta_min", delta_min},     {"explore", explore}, {"cat_explore", cat_explore},
          {"max_rejections", max_rejections}};
}

Wr2pSampler::Wr2pSampler(Space space, uint64_t seed, Wr2pOptions options, Direction direction)
    : space_(std::move(space)), seed_(seed), options_(options), direction_(direction) {}

double Wr2pSampler::anchor_probability(double loss1, double loss2) const {
  switch (options_.weights) {
    case Wr2pOptions::Weights::Inverse: {
      const double w1 = 1.0 / std::max(loss1, options_.epsilon);
      const double w2 = 1.0 / std::max(loss2, options_.epsilon);
      return w1 / (w1 + w2);
    }
    case Wr2pOptions::Weights::Softmax:  // exp(-v1/T) / (exp(-v1/T) + exp(-v2/T)), overflow-free
      return 1.0 / (1.0 + std::exp((loss1 - loss2) / options_.temperature));
    case Wr2pOptions::Weights::Rank:
      return 2.0 / 3.0;
  }
  return 0.5;
}

std::vector<std::pair<double, double>> Wr2pSampler::region() const {
  AN_CHECK(best_.best1 && best_.best2) << "wr2p: the region needs two finished trials";
  const std::vector<double> u1 = space_.encode(best_.best1->x), u2 = space_.encode(best_.best2->x);
  std::vector<std::pair<double, double>> box(u1.size());
  for (size_t d = 0; d < u1.size(); ++d) {
    const double lo = std::min(u1[d], u2[d]), hi = std::max(u1[d], u2[d]);
    const double delta = std::max(options_.alpha * (hi - lo), options_.delta_min);
    box[d] = {std::max(0.0, lo - delta), std::min(1.0, hi + delta)};
  }
  return box;
}

std::vector<double> Wr2pSampler::sample_voronoi(SuggestionRng& rng, const std::vector<double>& anchor,
                                                const std::vector<double>& other,
                                                int& rejections) const {
  const auto box = region();
  std::vector<double> u(anchor.size());
  bool separated = false;  // the two points differ in some numeric coordinate
  for (size_t d = 0; d < u.size(); ++d)
    if (space_[d].numeric() && anchor[d] != other[d]) separated = true;
  for (rejections = 0; rejections < options_.max_rejections; ++rejections) {
    double to_anchor = 0, to_other = 0;
    for (size_t d = 0; d < u.size(); ++d) {
      if (!space_[d].numeric()) continue;
      u[d] = rng.uniform(box[d].first, box[d].second);
      to_anchor += (u[d] - anchor[d]) * (u[d] - anchor[d]);
      to_other += (u[d] - other[d]) * (u[d] - other[d]);
    }
    if (!separated || to_anchor < to_other) return u;
  }
  return anchor;  // the cell is a vanishing sliver of B: fall back to the anchor itself
}

std::vector<double> Wr2pSampler::sample_per_dim(SuggestionRng& rng, double p1) const {
  const auto box = region();
  const std::vector<double> u1 = space_.encode(best_.best1->x), u2 = space_.encode(best_.best2->x);
  std::vector<double> u(u1.size());
  for (size_t d = 0; d < u.size(); ++d) {
    if (!space_[d].numeric()) continue;
    const double a = rng.bernoulli(p1) ? u1[d] : u2[d];
    if (u1[d] == u2[d]) {
      u[d] = rng.uniform(box[d].first, box[d].second);
      continue;
    }
    const double mid = 0.5 * (u1[d] + u2[d]);
    u[d] = a < mid ? rng.uniform(box[d].first, mid) : rng.uniform(mid, box[d].second);
  }
  return u;
}

Wr2pSampler::Draw Wr2pSampler::draw(int64_t index) const {
  Draw out;
  const size_t dims = space_.size();
  if (index == 0 || index == 1) {  // exact thirds of the normalised diagonal
    out.kind = Draw::Kind::Init;
    out.u.assign(dims, index == 0 ? 1.0 / 3.0 : 2.0 / 3.0);
    out.x = space_.decode(out.u);
    return out;
  }
  SuggestionRng rng(seed_, index);
  if (!best_.best1 || !best_.best2) {  // fewer than two finished trials: nothing to anchor on
    out.kind = Draw::Kind::Uniform;
    out.u.resize(dims);
    for (double& x : out.u) x = rng.uniform();
    out.x = space_.decode(out.u);
    return out;
  }
  if (rng.bernoulli(options_.explore)) {
    out.kind = Draw::Kind::Explore;
    out.u.resize(dims);
    for (double& x : out.u) x = rng.uniform();
    out.x = space_.decode(out.u);
    return out;
  }
  out.kind = Draw::Kind::Anchored;
  const double p1 = anchor_probability(best_.best1->loss, best_.best2->loss);
  const std::vector<double> u1 = space_.encode(best_.best1->x), u2 = space_.encode(best_.best2->x);
  if (options_.mode == Wr2pOptions::Mode::Voronoi) {
    out.anchor = rng.bernoulli(p1) ? 1 : 2;
    out.u = out.anchor == 1 ? sample_voronoi(rng, u1, u2, out.rejections)
                            : sample_voronoi(rng, u2, u1, out.rejections);
  } else {
    out.u = sample_per_dim(rng, p1);
  }
  for (size_t d = 0; d < dims; ++d) {  // categoricals: the anchor's category, or a uniform one
    const ParamSpec& p = space_[d];
    if (p.numeric()) continue;
    const int anchor = out.anchor != 0 ? out.anchor : (rng.bernoulli(p1) ? 1 : 2);
    const double k = static_cast<double>(p.choices.size());
    double category = (anchor == 1 ? best_.best1->x : best_.best2->x)[d];
    if (rng.bernoulli(options_.cat_explore)) category = static_cast<double>(rng.below(p.choices.size()));
    out.u[d] = (category + 0.5) / k;
  }
  out.x = space_.decode(out.u);
  return out;
}

std::optional<Json> Wr2pSampler::ask(int64_t index) { return space_.params_json(draw(index).x); }

void Wr2pSampler::tell(const TrialRecord& trial) {
  ++told_;
  // Pruned trials stopped early: their last value is not comparable with a full trial's.
  const std::optional<double> loss = loss_of(trial, direction_);
  if (!loss) return;
  best_.update({space_.point_from_json(trial.params), *loss, trial.number});
}

Json Wr2pSampler::state() const {
  Json s = best_.to_json(space_);
  s["told"] = told_;
  return s;
}

}  // namespace autonet::hpsearch
