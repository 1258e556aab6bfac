// The notebook's weighted-random search (Weighted_Random_CIFAR.ipynb: return_choice_init,
// return_divisions, return_choice, update_best), reproduced quirk for quirk. Its bugs are the
// point: this sampler exists so WR2P can be compared with what the seed really did.
#include <cmath>

#include "hpsearch/sampler.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

double log3(double x) { return std::log(x) / std::log(3.0); }

// return_divisions(min, max, n): n cell centres from min to max (max < min flips the order).
void append_divisions(double lo, double hi, int n, std::vector<double>& out) {
  const double diff = (hi - lo) / n;
  double current = lo + diff / 2;
  out.push_back(current);
  for (int i = 0; i < n - 1; ++i) {
    current += diff;
    out.push_back(current);
  }
}

// Python's int(): truncation toward zero.
double py_int(double x) { return std::trunc(x); }

}  // namespace

std::pair<double, double> SeedCompatSampler::init_values(double low, double high, bool log) {
  if (!log) return {(high - low) * 0.33 + low, (high - low) * 0.67 + low};
  double v1 = log3(low), v2 = log3(high);
  v1 = (v2 - v1) * 0.33 + v1;
  v2 = (v2 - v1) * 0.67 + v1;  // the bug: uses the already-moved v1, so 0.7789 of the diagonal
  return {std::pow(3.0, v1), std::pow(3.0, v2)};
}

std::vector<double> SeedCompatSampler::choice_cells(double val1, double val2, double loss1,
                                                    double loss2, bool log, int* lower_side_cells) {
  double lo, hi, lo_loss, hi_loss;
  if (val1 < val2) {
    lo = val1; hi = val2; lo_loss = loss1; hi_loss = loss2;
  } else {
    lo = val2; hi = val1; lo_loss = loss2; hi_loss = loss1;
  }
  int hi_cells = static_cast<int>(lo_loss / (lo_loss + hi_loss) * 100);  // int() of a percentage
  int lo_cells = static_cast<int>(hi_loss / (lo_loss + hi_loss) * 100);
  if (lo_cells == 0) { lo_cells = 1; hi_cells = 99; }
  if (hi_cells == 0) { lo_cells = 99; hi_cells = 1; }
  if (log) { lo = log3(lo); hi = log3(hi); }
  const double mid = (lo + hi) / 2;
  lo -= mid / 2;  // "extends" by the midpoint's value, not the width: flips for negative logs
  hi += mid / 2;
  std::vector<double> cells;
  append_divisions(lo, mid, lo_cells, cells);
  append_divisions(mid, hi, hi_cells, cells);
  if (log)
    for (double& c : cells) c = std::pow(3.0, c);
  if (lower_side_cells) *lower_side_cells = lo_cells;
  return cells;
}

SeedCompatSampler::SeedCompatSampler(Space space, uint64_t seed)
    : space_(std::move(space)), seed_(seed) {
  for (const ParamSpec& p : space_.params())
    AN_CHECK(p.numeric()) << "sampler 'seed-compat': parameter '" << p.name
                          << "' is categorical; the notebook's method knows floats and ints only";
}

std::optional<Json> SeedCompatSampler::ask(int64_t index) {
  Point x(space_.size());
  if (index == 0 || index == 1) {
    for (size_t d = 0; d < x.size(); ++d) {
      const ParamSpec& p = space_[d];
      const auto [v1, v2] = init_values(p.low, p.high, p.log);
      x[d] = index == 0 ? v1 : v2;
      if (p.type == ParamType::Int) x[d] = py_int(x[d]);
    }
    return space_.params_json(x);
  }
  SuggestionRng rng(seed_, index);
  if (!best_.best1 || !best_.best2) {  // the notebook would have crashed; draw uniformly instead
    for (size_t d = 0; d < x.size(); ++d) x[d] = space_[d].from_unit(rng.uniform());
    return space_.params_json(x);
  }
  for (size_t d = 0; d < x.size(); ++d) {  // each coordinate flips its own coin
    const ParamSpec& p = space_[d];
    const std::vector<double> cells = choice_cells(best_.best1->x[d], best_.best2->x[d],
                                                   best_.best1->loss, best_.best2->loss, p.log);
    x[d] = cells[rng.below(cells.size())];  // random.choice
    if (p.type == ParamType::Int) x[d] = py_int(x[d]);
  }
  return space_.params_json(x);
}

void SeedCompatSampler::tell(const TrialRecord& trial) {
  ++told_;
  const std::optional<double> loss = loss_of(trial, Direction::Minimize);
  if (!loss) return;
  BestTwo::Entry e{space_.point_from_json(trial.params, /*check_range=*/false), *loss, trial.number};
  // initialise_search orders the two init points with `l1 < l2`: a tie makes init 2 the best.
  if (best_.best1 && !best_.best2 && best_.best1->trial == 0 && trial.number == 1 &&
      e.loss == best_.best1->loss) {
    best_.best2 = best_.best1;
    best_.best1 = e;
    return;
  }
  best_.update(std::move(e));
}

Json SeedCompatSampler::state() const {
  Json s = best_.to_json(space_);
  s["told"] = told_;
  return s;
}

}  // namespace autonet::hpsearch
