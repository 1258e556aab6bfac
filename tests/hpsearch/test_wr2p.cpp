#include <gtest/gtest.h>

#include <cmath>

#include "hpsearch/sampler.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using testing::complete_trial;

Space mixed_space() {
  return Space::from_json(Json::parse(R"({
    "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": true},
    "drop": {"type": "float", "low": 0.0, "high": 0.6},
    "width": {"type": "int", "low": 0, "high": 9},
    "opt": {"type": "categorical", "choices": ["a", "b", "c", "d"]}})"));
}

Space box2() {
  return Space::from_json(Json::parse(R"({
    "a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "float", "low": 0, "high": 1}})"));
}

TEST(Wr2p, InitialPointsAreTheExactThirdsOfTheNormalisedDiagonal) {
  Wr2pSampler s(mixed_space(), 7);
  const auto d0 = s.draw(0), d1 = s.draw(1);
  for (double u : d0.u) EXPECT_EQ(u, 1.0 / 3.0);
  for (double u : d1.u) EXPECT_EQ(u, 2.0 / 3.0);
  // lr: 10^(-3 + 2/3) and 10^(-3 + 4/3); drop: 0.2 and 0.4; width: round(3) and round(6);
  // opt: floor(4/3) = 1 and floor(8/3) = 2.
  const Json p0 = *s.ask(0), p1 = *s.ask(1);
  EXPECT_NEAR(p0["lr"].get<double>(), std::pow(10.0, -3.0 + 2.0 / 3.0), 1e-15);
  EXPECT_NEAR(p1["lr"].get<double>(), std::pow(10.0, -3.0 + 4.0 / 3.0), 1e-15);
  EXPECT_NEAR(p0["drop"].get<double>(), 0.2, 1e-15);
  EXPECT_NEAR(p1["drop"].get<double>(), 0.4, 1e-15);
  EXPECT_EQ(p0["width"], 3);
  EXPECT_EQ(p1["width"], 6);
  EXPECT_EQ(p0["opt"], "b");
  EXPECT_EQ(p1["opt"], "c");
  // Independent of the seed: the init is deterministic.
  Wr2pSampler other(mixed_space(), 12345);
  EXPECT_EQ(*other.ask(0), p0);
  EXPECT_EQ(*other.ask(1), p1);
}

TEST(Wr2p, BestTwoMemoryFollowsTheSeedsReplacementRule) {
  Wr2pSampler s(box2(), 1);
  auto p = [](double a) { return Json{{"a", a}, {"b", a}}; };
  s.tell(complete_trial(0, p(0.1), 5.0));
  EXPECT_EQ(s.best().best1->trial, 0);
  EXPECT_FALSE(s.best().best2);
  s.tell(complete_trial(1, p(0.2), 3.0));  // better than best1: best1 → best2
  EXPECT_EQ(s.best().best1->trial, 1);
  EXPECT_EQ(s.best().best2->trial, 0);
  s.tell(complete_trial(2, p(0.3), 4.0));  // between: replaces best2
  EXPECT_EQ(s.best().best1->trial, 1);
  EXPECT_EQ(s.best().best2->trial, 2);
  s.tell(complete_trial(3, p(0.4), 4.0));  // a tie keeps the earlier point
  EXPECT_EQ(s.best().best2->trial, 2);
  TrialRecord pruned = complete_trial(4, p(0.5), 0.1);
  pruned.state = TrialState::Pruned;  // a pruned trial's early value is not comparable
  s.tell(pruned);
  TrialRecord nan = complete_trial(5, p(0.6), NAN);
  s.tell(nan);
  EXPECT_EQ(s.best().best1->trial, 1);
  EXPECT_EQ(s.best().best2->trial, 2);
  EXPECT_EQ(s.state()["told"], 6);
}

TEST(Wr2p, AnchorProbabilityOptions) {
  Wr2pOptions o;
  EXPECT_DOUBLE_EQ(Wr2pSampler(box2(), 0, o).anchor_probability(1.0, 3.0), 0.75);  // ∝ 1/loss
  EXPECT_DOUBLE_EQ(Wr2pSampler(box2(), 0, o).anchor_probability(0.0, 3.0), 1.0 / (1.0 + 1e-12 / 3.0));
  o.weights = Wr2pOptions::Weights::Softmax;
  o.temperature = 0.5;
  EXPECT_NEAR(Wr2pSampler(box2(), 0, o).anchor_probability(1.0, 2.0),
              std::exp(-2.0) / (std::exp(-2.0) + std::exp(-4.0)), 1e-15);
  o.weights = Wr2pOptions::Weights::Rank;
  EXPECT_DOUBLE_EQ(Wr2pSampler(box2(), 0, o).anchor_probability(1.0, 100.0), 2.0 / 3.0);
}

// Over many suggestions: the exploration rate, the anchor frequency ∝ 1/loss, and every anchored
// draw inside the widened box and in its anchor's Voronoi cell.
TEST(Wr2p, AnchorFrequencyTracksInverseLossAndDrawsStayInTheAnchorsCell) {
  Wr2pSampler s(box2(), 99);
  s.tell(complete_trial(0, {{"a", 0.3}, {"b", 0.6}}, 1.0));
  s.tell(complete_trial(1, {{"a", 0.5}, {"b", 0.5}}, 3.0));
  const auto box = s.region();
  // δ = max(0.5·0.2, 0.05) = 0.1 on a, max(0.5·0.1, 0.05) = 0.05 on b.
  EXPECT_NEAR(box[0].first, 0.2, 1e-12);
  EXPECT_NEAR(box[0].second, 0.6, 1e-12);
  EXPECT_NEAR(box[1].first, 0.45, 1e-12);
  EXPECT_NEAR(box[1].second, 0.65, 1e-12);
  const std::vector<double> u1{0.3, 0.6}, u2{0.5, 0.5};
  const int n = 20000;
  int explore = 0, anchored = 0, on_best1 = 0;
  for (int i = 2; i < n + 2; ++i) {
    const auto d = s.draw(i);
    if (d.kind == Wr2pSampler::Draw::Kind::Explore) {
      ++explore;
      continue;
    }
    ASSERT_EQ(d.kind, Wr2pSampler::Draw::Kind::Anchored);
    ++anchored;
    on_best1 += d.anchor == 1;
    for (int k = 0; k < 2; ++k) {
      ASSERT_GE(d.u[k], box[k].first);
      ASSERT_LE(d.u[k], box[k].second);
    }
    const auto& a = d.anchor == 1 ? u1 : u2;
    const auto& o = d.anchor == 1 ? u2 : u1;
    const double da = std::hypot(d.u[0] - a[0], d.u[1] - a[1]);
    const double dother = std::hypot(d.u[0] - o[0], d.u[1] - o[1]);
    ASSERT_LT(da, dother);
  }
  // Binomial standard deviations: 0.003 and 0.0032; allow 5σ.
  EXPECT_NEAR(static_cast<double>(explore) / n, 0.1, 0.015);
  EXPECT_NEAR(static_cast<double>(on_best1) / anchored, 0.75, 0.016);
}

TEST(Wr2p, PerDimensionVariantPicksTheAnchorsSidePerCoordinate) {
  Wr2pOptions o;
  o.mode = Wr2pOptions::Mode::PerDim;
  o.explore = 0;
  Wr2pSampler s(box2(), 5, o);
  s.tell(complete_trial(0, {{"a", 0.2}, {"b", 0.8}}, 2.0));  // best1
  s.tell(complete_trial(1, {{"a", 0.6}, {"b", 0.4}}, 6.0));  // p(best1) = 0.75 per coordinate
  int a_side = 0, b_side = 0;
  const int n = 10000;
  for (int i = 2; i < n + 2; ++i) {
    const auto d = s.draw(i);
    a_side += d.u[0] < 0.4;  // best1's side of the midpoint on a
    b_side += d.u[1] > 0.6;  // and on b
    ASSERT_GE(d.u[0], 0.0);
    ASSERT_LE(d.u[0], 0.8);  // [0.2 − 0.2, 0.6 + 0.2]
  }
  EXPECT_NEAR(static_cast<double>(a_side) / n, 0.75, 0.022);
  EXPECT_NEAR(static_cast<double>(b_side) / n, 0.75, 0.022);
}

TEST(Wr2p, ExplorationFloorKeepsTheRegionOpenWhenTheBestTwoCoincide) {
  Wr2pOptions o;
  o.explore = 0;
  Wr2pSampler s(box2(), 3, o);
  s.tell(complete_trial(0, {{"a", 0.5}, {"b", 0.5}}, 1.0));
  s.tell(complete_trial(1, {{"a", 0.5}, {"b", 0.5}}, 2.0));
  const auto box = s.region();
  EXPECT_NEAR(box[0].first, 0.45, 1e-12);
  EXPECT_NEAR(box[0].second, 0.55, 1e-12);
  double lo = 1, hi = 0;
  for (int i = 2; i < 2000; ++i) {
    const double a = s.draw(i).u[0];
    lo = std::min(lo, a);
    hi = std::max(hi, a);
  }
  EXPECT_LT(lo, 0.46);  // draws fill the floor-sized box, not a point
  EXPECT_GT(hi, 0.54);
}

TEST(Wr2p, CategoricalsKeepTheAnchorsCategoryUnlessExploring) {
  const Space space = Space::from_json(Json::parse(R"({
    "x": {"type": "float", "low": 0, "high": 1},
    "opt": {"type": "categorical", "choices": ["a", "b", "c", "d"]}})"));
  Wr2pOptions o;
  o.explore = 0;
  o.weights = Wr2pOptions::Weights::Rank;  // anchor best1 with p = 2/3
  Wr2pSampler s(space, 11, o);
  s.tell(complete_trial(0, {{"x", 0.2}, {"opt", "a"}}, 1.0));
  s.tell(complete_trial(1, {{"x", 0.8}, {"opt", "d"}}, 2.0));
  int same_as_anchor = 0;
  const int n = 10000;
  for (int i = 2; i < n + 2; ++i) {
    const auto d = s.draw(i);
    same_as_anchor += d.x[1] == (d.anchor == 1 ? 0.0 : 3.0);
  }
  // 1 − ε_cat + ε_cat/K = 0.9 + 0.025.
  EXPECT_NEAR(static_cast<double>(same_as_anchor) / n, 0.925, 0.015);
}

TEST(Wr2p, SuggestionsDependOnlyOnSeedIndexAndTells) {
  auto make = [](uint64_t seed) {
    auto s = std::make_unique<Wr2pSampler>(mixed_space(), seed);
    s->tell(complete_trial(0, *s->ask(0), 1.0));
    s->tell(complete_trial(1, *s->ask(1), 2.0));
    return s;
  };
  auto a = make(42), b = make(42), c = make(43);
  EXPECT_EQ(*a->ask(17), *b->ask(17));
  EXPECT_EQ(*a->ask(17), *a->ask(17));  // ask does not change state
  EXPECT_NE(*a->ask(17), *c->ask(17));
  EXPECT_NE(*a->ask(17), *a->ask(18));
}

}  // namespace
}  // namespace autonet::hpsearch
