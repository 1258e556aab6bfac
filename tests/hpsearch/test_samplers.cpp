#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "hpsearch/sampler.h"

namespace autonet::hpsearch {
namespace {

Space space() {
  return Space::from_json(Json::parse(R"({
    "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": true},
    "n": {"type": "int", "low": 1, "high": 3},
    "opt": {"type": "categorical", "choices": ["sgd", "adam"]}})"));
}

// An int's bounds are as likely as its interior values: 600 draws of int [1, 3] must pass a
// chi-square test of uniformity at p = 0.001 (2 degrees of freedom: 13.8). Rounding a uniform
// [1, 3] gives the bounds half the mass (about 150 / 300 / 150, chi-square about 75).
TEST(RandomSampler, IntegerBoundsAreAsLikelyAsInteriorValues) {
  for (const bool log : {false, true}) {
    Json spec = {{"n", {{"type", "int"}, {"low", 1}, {"high", 3}}}};
    if (log) spec["n"]["log"] = true;
    RandomSampler sampler(Space::from_json(spec), 5);
    std::map<int, int> counts;
    for (int i = 0; i < 600; ++i) ++counts[(*sampler.ask(i))["n"].get<int>()];
    ASSERT_EQ(counts.size(), 3u);
    // Uniform in [0.5, 3.5], or log-uniform there for a log int: cell k has width log((k+½)/(k−½)).
    double chi2 = 0;
    for (int k = 1; k <= 3; ++k) {
      const double p = log ? std::log((k + 0.5) / (k - 0.5)) / std::log(3.5 / 0.5) : 1.0 / 3.0;
      const double expected = 600 * p;
      chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
    }
    EXPECT_LT(chi2, 13.8) << (log ? "log" : "linear") << ": " << counts[1] << " / " << counts[2]
                          << " / " << counts[3];
  }
}

TEST(RandomSampler, DeterministicInRangeAndCoversTheSpace) {
  RandomSampler a(space(), 1), b(space(), 1), c(space(), 2);
  std::set<int> ns;
  std::set<std::string> opts;
  double lo = 1, hi = 0;
  for (int i = 0; i < 300; ++i) {
    const Json p = *a.ask(i);
    EXPECT_EQ(p, *b.ask(i));
    const double lr = p["lr"].get<double>();
    ASSERT_GE(lr, 0.001);
    ASSERT_LE(lr, 0.1);
    lo = std::min(lo, lr);
    hi = std::max(hi, lr);
    ns.insert(p["n"].get<int>());
    opts.insert(p["opt"].get<std::string>());
  }
  EXPECT_NE(*a.ask(0), *c.ask(0));
  EXPECT_EQ(ns.size(), 3u);
  EXPECT_EQ(opts.size(), 2u);
  EXPECT_LT(lo, 0.0015);  // log-uniform reaches both decades' ends
  EXPECT_GT(hi, 0.07);
}

TEST(GridSampler, EnumeratesTheCartesianProductOnceThenStops) {
  GridSampler g(space(), 3);
  EXPECT_EQ(g.size(), 3 * 3 * 2);
  std::set<std::string> seen;
  for (int i = 0; i < g.size(); ++i) seen.insert(g.ask(i)->dump());
  EXPECT_EQ(seen.size(), 18u);
  EXPECT_FALSE(g.ask(18));
  EXPECT_EQ(*g.ask(0), Json::parse(R"({"lr": 0.001, "n": 1, "opt": "sgd"})"));
  const Json last = *g.ask(17);
  EXPECT_NEAR(last["lr"].get<double>(), 0.1, 1e-15);
  EXPECT_EQ(last["n"], 3);
  EXPECT_EQ(last["opt"], "adam");
  EXPECT_NEAR((*g.ask(6))["lr"].get<double>(), 0.01, 1e-15);  // log-spaced middle
}

TEST(HaltonSampler, FillsEachAxisEvenly) {
  const Space s = Space::from_json(Json::parse(R"({
    "a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "float", "low": 0, "high": 1}})"));
  HaltonSampler h(s, 3);
  // 64 points: every 1/8 stratum of each axis holds 8 ± 1 points (random would be ± ~5).
  std::vector<int> a(8), b(8);
  for (int i = 0; i < 64; ++i) {
    const Json p = *h.ask(i);
    a[std::min(7, static_cast<int>(p["a"].get<double>() * 8))]++;
    b[std::min(7, static_cast<int>(p["b"].get<double>() * 8))]++;
  }
  for (int k = 0; k < 8; ++k) {
    EXPECT_NEAR(a[k], 8, 1);
    EXPECT_NEAR(b[k], 8, 1);
  }
}

TEST(MakeSampler, BuildsEveryNamedSampler) {
  for (const char* name : {"wr2p", "seed-compat", "random", "grid", "halton"}) {
    if (std::string(name) == "seed-compat") continue;  // categoricals: tested in test_space
    EXPECT_EQ(make_sampler({{"name", name}}, space(), 0, Direction::Minimize)->name(), name);
  }
}

}  // namespace
}  // namespace autonet::hpsearch
