#include <gtest/gtest.h>

#include <cmath>

#include "hpsearch/options.h"
#include "hpsearch/pruner.h"
#include "runtime/error.h"

namespace autonet::hpsearch {
namespace {

TrialRecord peer(int64_t n, std::vector<double> values, TrialState state = TrialState::Complete) {
  TrialRecord t;
  t.number = n;
  t.state = state;
  for (size_t i = 0; i < values.size(); ++i) t.intermediate.push_back({static_cast<int64_t>(i + 1), values[i]});
  t.value = values.back();
  return t;
}

std::vector<Intermediate> curve(std::vector<double> values) {
  std::vector<Intermediate> out;
  for (size_t i = 0; i < values.size(); ++i) out.push_back({static_cast<int64_t>(i + 1), values[i]});
  return out;
}

TEST(MedianPruner, StopsATrialWorseThanTheMedianAfterStartupAndWarmup) {
  auto p = make_pruner({{"name", "median"}, {"startup_trials", 3}, {"warmup_steps", 1}});
  const std::vector<TrialRecord> peers{peer(0, {4, 3, 2}), peer(1, {5, 4, 3}), peer(2, {6, 5, 4})};
  std::vector<const TrialRecord*> view;
  for (const auto& t : peers) view.push_back(&t);
  EXPECT_FALSE(p->decide(curve({9}), view, Direction::Minimize).prune);  // warm-up step 1
  const PruneDecision d = p->decide(curve({9, 8}), view, Direction::Minimize);  // median at 2 is 4
  EXPECT_TRUE(d.prune);
  EXPECT_NE(d.reason.find("median"), std::string::npos);
  EXPECT_FALSE(p->decide(curve({9, 4}), view, Direction::Minimize).prune);  // equal: keep
  EXPECT_FALSE(p->decide(curve({9, 3.5}), view, Direction::Minimize).prune);
  view.pop_back();  // only 2 complete peers < startup_trials
  EXPECT_FALSE(p->decide(curve({9, 8}), view, Direction::Minimize).prune);
}

TEST(MedianPruner, MaximisedObjectivesCompareTheOtherWay) {
  auto p = make_pruner({{"name", "median"}, {"startup_trials", 1}});
  const TrialRecord a = peer(0, {0.5, 0.6}), b = peer(1, {0.7, 0.8});
  // Losses are the negated accuracies; the median accuracy at step 2 is 0.7.
  EXPECT_TRUE(p->decide(curve({-0.4, -0.5}), {&a, &b}, Direction::Maximize).prune);
  EXPECT_FALSE(p->decide(curve({-0.4, -0.75}), {&a, &b}, Direction::Maximize).prune);
}

TEST(AshaPruner, RungsAtGeometricStepsKeepTheTopFraction) {
  AshaPruner p({{"name", "asha"}, {"min_resource", 1}, {"reduction_factor", 3}});
  EXPECT_TRUE(p.is_rung(1));
  EXPECT_TRUE(p.is_rung(3));
  EXPECT_TRUE(p.is_rung(9));
  EXPECT_FALSE(p.is_rung(2));
  EXPECT_FALSE(p.is_rung(6));
  std::vector<TrialRecord> peers;
  for (int i = 0; i < 5; ++i) peers.push_back(peer(i, {1.0 + i, 1.0 + i, 1.0 + i}));
  std::vector<const TrialRecord*> view;
  for (const auto& t : peers) view.push_back(&t);
  // Rung step 3 holds {1,2,3,4,5} + mine: 6 values, keep the best 2.
  EXPECT_FALSE(p.decide(curve({9, 9, 1.5}), view, Direction::Minimize).prune);
  EXPECT_TRUE(p.decide(curve({9, 9, 2.5}), view, Direction::Minimize).prune);
  EXPECT_FALSE(p.decide(curve({9, 9}), view, Direction::Minimize).prune);  // step 2: no rung
  // The first trial at a rung always goes on.
  EXPECT_FALSE(p.decide(curve({100}), {}, Direction::Minimize).prune);
}

TEST(Pruner, NonFiniteOrDivergedValuesStopAtOnceWhateverTheRule) {
  for (const char* name : {"none", "median", "asha"}) {
    auto p = make_pruner({{"name", name}, {"diverge_above", 50.0}});
    PruneDecision d = p->decide(curve({1.0, NAN}), {}, Direction::Minimize);
    EXPECT_TRUE(d.prune) << name;
    EXPECT_EQ(d.reason.rfind("diverged", 0), 0u) << d.reason;
    d = p->decide(curve({1.0, INFINITY}), {}, Direction::Minimize);
    EXPECT_TRUE(d.prune) << name;
    d = p->decide(curve({60.0}), {}, Direction::Minimize);
    EXPECT_TRUE(d.prune) << name;
    EXPECT_NE(d.reason.find("above 50"), std::string::npos) << d.reason;
    EXPECT_FALSE(p->decide(curve({40.0}), {}, Direction::Minimize).prune) << name;
  }
}

// Pruned and failed peers stopped early because they were bad (or broken): their values must not
// pull the median. Here three complete peers sit at 5 and four pruned ones at 1 at step 2; a
// trial at 4 is better than the complete trials' median and goes on.
TEST(MedianPruner, ComparesWithCompletePeersOnly) {
  auto p = make_pruner({{"name", "median"}, {"startup_trials", 3}});
  std::vector<TrialRecord> peers{peer(0, {5, 5, 5}), peer(1, {5, 5, 5}), peer(2, {5, 5, 5})};
  for (int i = 3; i < 7; ++i)
    peers.push_back(peer(i, {1, 1}, i % 2 ? TrialState::Pruned : TrialState::Failed));
  std::vector<const TrialRecord*> view;
  for (const auto& t : peers) view.push_back(&t);
  EXPECT_FALSE(p->decide(curve({6, 4}), view, Direction::Minimize).prune);
  EXPECT_TRUE(p->decide(curve({6, 5.5}), view, Direction::Minimize).prune);
}

// At its last step a trial has done all its work: pruning it then only throws the result away.
TEST(Pruner, RulesNeverStopATrialAtItsLastStep) {
  std::vector<TrialRecord> peers;
  for (int i = 0; i < 6; ++i) peers.push_back(peer(i, {1, 1, 1}));
  std::vector<const TrialRecord*> view;
  for (const auto& t : peers) view.push_back(&t);
  for (const Json& config : {Json{{"name", "median"}, {"startup_trials", 1}},
                            Json{{"name", "asha"}, {"min_resource", 3}}}) {
    auto p = make_pruner(config, Direction::Minimize);
    const std::string name = config["name"];
    EXPECT_TRUE(p->decide(curve({9, 9, 9}), view, Direction::Minimize, 5).prune) << name;
    EXPECT_FALSE(p->decide(curve({9, 9, 9}), view, Direction::Minimize, 3).prune) << name;
    // Divergence still stops it: a NaN result is no result.
    EXPECT_TRUE(p->decide(curve({9, 9, NAN}), view, Direction::Minimize, 3).prune) << name;
  }
}

// diverge_above is a bound on a loss. On a maximised objective it would stop the best trials,
// so it is refused there; diverge_below is the maximising twin.
TEST(Pruner, DivergenceThresholdsFollowTheDirection) {
  EXPECT_THROW(make_pruner({{"name", "none"}, {"diverge_above", 0.5}}, Direction::Maximize), Error);
  EXPECT_THROW(make_pruner({{"name", "none"}, {"diverge_below", 0.5}}, Direction::Minimize), Error);
  auto p = make_pruner({{"name", "median"}, {"diverge_below", 0.2}}, Direction::Maximize);
  EXPECT_FALSE(p->decide(curve({-0.9}), {}, Direction::Maximize).prune);  // accuracy 0.9
  const PruneDecision d = p->decide(curve({-0.1}), {}, Direction::Maximize);
  EXPECT_TRUE(d.prune);
  EXPECT_NE(d.reason.find("below 0.2"), std::string::npos) << d.reason;
}

TEST(AshaPruner, MinEarlyStoppingRateMovesTheFirstRung) {
  AshaPruner p(Json{{"name", "asha"}, {"min_resource", 2}, {"reduction_factor", 2},
                {"min_early_stopping_rate", 2}});
  for (int64_t step : {1, 2, 4, 6, 12}) EXPECT_FALSE(p.is_rung(step)) << step;
  for (int64_t step : {8, 16, 32}) EXPECT_TRUE(p.is_rung(step)) << step;  // 2·2^(2+k)
}

// R = 27, r = 1, η = 3: ⌊log₃ 27⌋ + 1 = 4 brackets with ⌈4·3^s / (s + 1)⌉ trials for s = 3..0:
// 27, 12, 6, 4 (49 in a cycle); R = 9: 9, 5, 3.
TEST(HyperbandPruner, BracketsAndTheirShareOfTrials) {
  HyperbandPruner p(Json{{"name", "hyperband"}, {"max_resource", 27}});
  EXPECT_EQ(p.bracket_budgets(27), (std::vector<int64_t>{27, 12, 6, 4}));
  EXPECT_EQ(p.bracket_budgets(26), (std::vector<int64_t>{9, 5, 3}));
  EXPECT_EQ(p.bracket_budgets(9), (std::vector<int64_t>{9, 5, 3}));
  EXPECT_EQ(p.bracket_budgets(1), (std::vector<int64_t>{1}));
  // splitmix64(n) mod 49 for n = 0..9 is 16, 2, 4, 37, 34, 45, 3, 9, 39, 37 (computed apart):
  // 0–26 is bracket 0, 27–38 bracket 1, 39–44 bracket 2, 45–48 bracket 3.
  const std::vector<int64_t> expected{0, 0, 0, 1, 1, 3, 0, 0, 2, 1};
  for (int64_t n = 0; n < 10; ++n) EXPECT_EQ(p.bracket_of(n, 27), expected[n]) << n;
  // Over many trials each bracket gets its share: chi-square (3 degrees of freedom) < 16.3.
  std::vector<double> counts(4, 0);
  for (int64_t n = 0; n < 4900; ++n) ++counts[p.bracket_of(n, 27)];
  double chi2 = 0;
  const std::vector<double> share{27, 12, 6, 4};
  for (int b = 0; b < 4; ++b) chi2 += std::pow(counts[b] - 100 * share[b], 2) / (100 * share[b]);
  EXPECT_LT(chi2, 16.3);
}

// Trials 0–2 and 6 are in bracket 0 (rungs 1, 3, 9), 3, 4, 9 and 10 in bracket 1 (rungs 3, 9),
// 5 in bracket 3 (rung 27 only: the last step). Each compares with its own bracket only.
TEST(HyperbandPruner, EachBracketHalvesOnItsOwnRungsAmongItsOwnTrials) {
  for (const Json& max_resource : {Json(27), Json("auto")}) {
    HyperbandPruner p(Json{{"name", "hyperband"}, {"max_resource", max_resource}});
    const int64_t last = 27;  // the workload's last step ("auto" reads it)
    std::vector<TrialRecord> peers{peer(0, {1, 1, 0.1}), peer(1, {2, 2, 0.2}), peer(2, {3, 3, 0.3}),
                                   peer(4, {9, 9, 1.0}), peer(9, {9, 9, 2.0}), peer(10, {9, 9, 3.0})};
    std::vector<const TrialRecord*> view;
    for (const auto& t : peers) view.push_back(&t);
    const auto decide = [&](std::vector<double> values, int64_t trial) {
      return p.decide(curve(values), view, Direction::Minimize, last, trial);
    };
    // Trial 3 at step 3: its bracket's rung holds {1, 2, 3} and its value: the best 1 of 4 goes on.
    EXPECT_FALSE(decide({9, 9, 0.9}, 3).prune) << max_resource;  // ASHA over all would stop it
    const PruneDecision d = decide({9, 9, 1.5}, 3);
    EXPECT_TRUE(d.prune);
    EXPECT_NE(d.reason.find("hyperband bracket 1"), std::string::npos) << d.reason;
    EXPECT_FALSE(decide({100}, 3).prune);  // step 1 is no rung of bracket 1
    EXPECT_TRUE(decide({100}, 6).prune);   // but is one of bracket 0: {1, 2, 3, 100}
    EXPECT_FALSE(decide({100, 100, 100, 100, 100, 100, 100, 100, 100}, 5).prune);  // bracket 3
  }
  // "auto" with no last step from the workload and no complete peer: nothing to size brackets by.
  HyperbandPruner a(Json{{"name", "hyperband"}});
  EXPECT_FALSE(a.decide(curve({100}), {}, Direction::Minimize, 0, 6).prune);
}

}  // namespace
}  // namespace autonet::hpsearch
