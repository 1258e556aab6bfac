// seed-compat against the numbers documented from the notebook (reference/hpsearch.md §1.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "hpsearch/sampler.h"
#include "hpsearch/study.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using testing::complete_trial;

StudyConfig notebook() { return load_study_config(AUTONET_SOURCE_DIR "/examples/hpsearch/seed-notebook.json"); }

TEST(SeedCompat, InitialPointsMatchTheNotebooksLoggedValues) {
  const StudyConfig c = notebook();
  auto s = c.make_sampler();
  ASSERT_EQ(s->name(), "seed-compat");
  const Json a = *s->ask(0), b = *s->ask(1);
  // Logged: init-1 = {dr 0.03636, kr 0.02138, lr 0.002138, mom 0.99296, ep 11},
  //         init-2 = {dr 0.2105,  kr 0.0601,  lr 0.00601,  mom 0.99700, ep 18}.
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(a["dropout" + std::to_string(i)].get<double>(), 0.03636, 5e-6);
    EXPECT_NEAR(b["dropout" + std::to_string(i)].get<double>(), 0.2105, 5e-5);
  }
  for (int i = 0; i < 7; ++i) {
    EXPECT_NEAR(a["l2_" + std::to_string(i)].get<double>(), 0.02138, 5e-6);
    EXPECT_NEAR(b["l2_" + std::to_string(i)].get<double>(), 0.0601, 5e-5);
  }
  EXPECT_NEAR(a["lr"].get<double>(), 0.002138, 5e-7);
  EXPECT_NEAR(b["lr"].get<double>(), 0.00601, 5e-6);
  EXPECT_NEAR(a["momentum"].get<double>(), 0.99296, 5e-6);
  EXPECT_NEAR(b["momentum"].get<double>(), 0.99700, 5e-6);
  EXPECT_EQ(a["epochs"], 11);
  EXPECT_EQ(b["epochs"], 18);
  // The second point sits at 0.33 + 0.67·0.67 = 0.7789 of the log diagonal, not at 2/3.
  const double frac = (std::log(b["lr"].get<double>()) - std::log(0.001)) / std::log(10.0);
  EXPECT_NEAR(frac, 0.7789, 1e-12);
}

TEST(SeedCompat, ChoiceCellsReproduceTheFlippedIntervals) {
  // Iteration 1, learning rate: 0.002138 (loss 1.8102) vs 0.00601 (loss 2.3027). 55 of 99 cells
  // go to [0.00358, 0.0357] (above the midpoint, towards the worse point), 44 to [0.00036, 0.00358].
  const auto [lr1, lr2] = SeedCompatSampler::init_values(0.001, 0.01, true);
  int lower = 0;
  const auto cells = SeedCompatSampler::choice_cells(lr1, lr2, 1.8102, 2.3027, true, &lower);
  ASSERT_EQ(cells.size(), 99u);
  EXPECT_EQ(lower, 55);
  const auto [first_lo, first_hi] = std::minmax_element(cells.begin(), cells.begin() + 55);
  const auto [rest_lo, rest_hi] = std::minmax_element(cells.begin() + 55, cells.end());
  EXPECT_GT(*first_lo, 0.00358);
  EXPECT_LT(*first_hi, 0.0357);
  EXPECT_GT(*rest_lo, 0.00036);
  EXPECT_LT(*rest_hi, 0.00358);
  // The cells run to within half a cell of the interval ends (log₃ space).
  EXPECT_NEAR(*first_hi, 0.0357, 0.0357 * 0.06);
  EXPECT_NEAR(*rest_lo, 0.000358, 0.000358 * 0.06);

  // Dropout: [0.062, 0.123], containing neither parent (0.036, 0.21).
  const auto [d1, d2] = SeedCompatSampler::init_values(0.01, 0.5, true);
  const auto dc = SeedCompatSampler::choice_cells(d1, d2, 1.8102, 2.3027, true);
  EXPECT_GT(*std::min_element(dc.begin(), dc.end()), 0.0622);
  EXPECT_LT(*std::max_element(dc.begin(), dc.end()), 0.1230);
  // Momentum: [0.99450, 0.99546].
  const auto [m1, m2] = SeedCompatSampler::init_values(0.99, 0.999, true);
  const auto mc = SeedCompatSampler::choice_cells(m1, m2, 1.8102, 2.3027, true);
  EXPECT_GT(*std::min_element(mc.begin(), mc.end()), 0.99450);
  EXPECT_LT(*std::max_element(mc.begin(), mc.end()), 0.99546);
  // Epochs (linear, 11 and 18): [3.75, 14.5] ∪ [14.5, 25.25].
  const auto ec = SeedCompatSampler::choice_cells(11, 18, 1.8102, 2.3027, false, &lower);
  EXPECT_EQ(lower, 55);
  EXPECT_NEAR(ec.front(), 3.75 + (14.5 - 3.75) / 110, 1e-12);
  EXPECT_NEAR(ec.back(), 25.25 - (25.25 - 14.5) / 88, 1e-12);
}

TEST(SeedCompat, PercentagesAreTruncatedAndZeroCountsForcedTo1And99) {
  int lower = 0;
  // int(100·1000/1001) = 99 lower cells, int(100·1/1001) = 0 → forced to 99/1.
  auto c = SeedCompatSampler::choice_cells(1.0, 2.0, 1.0, 1000.0, false, &lower);
  EXPECT_EQ(lower, 99);
  EXPECT_EQ(c.size(), 100u);
  // And the other way round: the first rule gives 1/99.
  c = SeedCompatSampler::choice_cells(1.0, 2.0, 1000.0, 1.0, false, &lower);
  EXPECT_EQ(lower, 1);
  EXPECT_EQ(c.size(), 100u);
  // Equal losses: int(50.0) twice → 100 cells.
  c = SeedCompatSampler::choice_cells(1.0, 2.0, 1.0, 1.0, false, &lower);
  EXPECT_EQ(lower, 50);
  EXPECT_EQ(c.size(), 100u);
}

TEST(SeedCompat, IterationsDrawPerCoordinateFromTheNotebooksCells) {
  const StudyConfig c = notebook();
  auto s = c.make_sampler();
  s->tell(complete_trial(0, *s->ask(0), 1.8102));
  s->tell(complete_trial(1, *s->ask(1), 2.3027));
  bool dropouts_differ = false;
  for (int i = 2; i < 200; ++i) {
    const Json p = *s->ask(i);
    // The observed iteration-1 dropouts (0.072, 0.113, 0.078, 0.080) lie in this range, too.
    for (int k = 0; k < 4; ++k) {
      const double d = p["dropout" + std::to_string(k)].get<double>();
      ASSERT_GT(d, 0.0622);
      ASSERT_LT(d, 0.1230);
    }
    dropouts_differ |= p["dropout0"] != p["dropout1"];
    const double lr = p["lr"].get<double>();
    ASSERT_GT(lr, 0.00035);  // may leave the box [0.001, 0.01]: the notebook never clips
    ASSERT_LT(lr, 0.0358);
    const int ep = p["epochs"].get<int>();
    ASSERT_GE(ep, 3);
    ASSERT_LE(ep, 25);
  }
  EXPECT_TRUE(dropouts_differ);  // each coordinate flips its own coin
}

}  // namespace
}  // namespace autonet::hpsearch
