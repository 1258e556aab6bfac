// The Sobol' sequence: known first points, the range, and the net property (the first 2^m points
// of a (t, m, s)-net put exactly 2^t points in every elementary box of volume 2^(t−m)), plain and
// scrambled; and the sampler on top of it.
#include <gtest/gtest.h>

#include <set>

#include "hpsearch/sobol.h"
#include "runtime/error.h"

namespace autonet::hpsearch {
namespace {

TEST(SobolSequence, FirstPointsAreTheKnownOnes) {
  // scipy.stats.qmc.Sobol(3, scramble=False).random(8), worked by hand from m = (1), (1), (1, 3).
  const double expected[8][3] = {{0, 0, 0},           {0.5, 0.5, 0.5},     {0.75, 0.25, 0.25},
                                 {0.25, 0.75, 0.75},  {0.375, 0.375, 0.625}, {0.875, 0.875, 0.125},
                                 {0.625, 0.125, 0.875}, {0.125, 0.625, 0.375}};
  const SobolSequence s(3);
  for (int i = 0; i < 8; ++i) {
    const std::vector<double> x = s.point(static_cast<uint64_t>(i));
    for (int d = 0; d < 3; ++d) EXPECT_EQ(x[d], expected[i][d]) << "point " << i << " dim " << d;
  }
  // Dimension 1 is van der Corput: the radical inverse of the Gray code of i.
  // gray(1000) = 540 has bits 2, 3, 4 and 9 set: 2^−3 + 2^−4 + 2^−5 + 2^−10.
  EXPECT_EQ(SobolSequence(1).point(1000)[0], 0.2197265625);
}

// Counts of the first n points of dims (a, b) in a 2^ka × 2^kb grid.
std::vector<int> grid_counts(const SobolSequence& s, int n, int a, int b, int ka, int kb) {
  std::vector<int> counts(size_t{1} << (ka + kb), 0);
  for (int i = 0; i < n; ++i) {
    const std::vector<double> x = s.point(static_cast<uint64_t>(i));
    const int ia = static_cast<int>(x[a] * (1 << ka)), ib = static_cast<int>(x[b] * (1 << kb));
    counts[(static_cast<size_t>(ia) << kb) | static_cast<size_t>(ib)]++;
  }
  return counts;
}

void expect_net_properties(const SobolSequence& s) {
  // Every point in [0, 1)^d.
  for (int i = 0; i < 4096; ++i)
    for (double v : s.point(static_cast<uint64_t>(i))) ASSERT_TRUE(v >= 0.0 && v < 1.0) << v;
  // Each dimension alone is a (0, 1)-sequence: the first 2^10 points fill the 2^10 cells once.
  for (int d = 0; d < s.dims(); ++d) {
    std::vector<int> counts(1024, 0);
    for (int i = 0; i < 1024; ++i) counts[static_cast<size_t>(s.point(static_cast<uint64_t>(i))[d] * 1024)]++;
    for (int c : counts) ASSERT_EQ(c, 1) << "dimension " << d;
  }
  // Dimensions 1 and 2 form a (0, m, 2)-net: for m = 8 every elementary box 2^−a × 2^−(8−a) holds
  // exactly one of the first 256 points.
  for (int a = 0; a <= 8; ++a)
    for (int c : grid_counts(s, 256, 0, 1, a, 8 - a)) ASSERT_EQ(c, 1) << "split " << a;
  // Every pair of the first 21 dimensions (Joe–Kuo's numbers keep their t-values small): the first
  // 1024 points put exactly 64 in each cell of a 4 × 4 grid.
  for (int a = 0; a < std::min(s.dims(), 21); ++a)
    for (int b = a + 1; b < std::min(s.dims(), 21); ++b)
      for (int c : grid_counts(s, 1024, a, b, 2, 2)) ASSERT_EQ(c, 64) << "dims " << a << ", " << b;
}

TEST(SobolSequence, FirstPowerOfTwoPointsAreStratified) { expect_net_properties(SobolSequence(32)); }

TEST(SobolSequence, ScramblingKeepsTheStratificationAndFollowsTheSeed) {
  const SobolSequence a(32, 7), b(32, 7), c(32, 8);
  expect_net_properties(a);
  EXPECT_EQ(a.point(0), b.point(0));
  EXPECT_EQ(a.point(12345), b.point(12345));
  EXPECT_NE(a.point(0), c.point(0));
  EXPECT_NE(a.point(0), SobolSequence(32).point(0));  // no longer the corner
}

TEST(SobolSequence, RefusesUnsupportedDimensions) {
  EXPECT_THROW(SobolSequence(0), Error);
  EXPECT_THROW(SobolSequence(33), Error);
}

TEST(SobolSampler, SuggestsTheSequenceThroughTheSpace) {
  const Space space = Space::from_json(Json::parse(R"({
    "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": true},
    "x": {"type": "float", "low": -1, "high": 1},
    "opt": {"type": "categorical", "choices": ["sgd", "adam"]}})"));
  auto plain = make_sampler({{"name", "sobol"}, {"scramble", false}}, space, 3, Direction::Minimize);
  EXPECT_EQ(plain->name(), "sobol");
  EXPECT_EQ(*plain->ask(0), Json::parse(R"({"lr": 0.001, "x": -1.0, "opt": "sgd"})"));
  const Json p1 = *plain->ask(1);  // (1/2, 1/2, 1/2): the log-midpoint, 0, the second choice
  EXPECT_NEAR(p1["lr"].get<double>(), 0.01, 1e-15);
  EXPECT_EQ(p1["x"].get<double>(), 0.0);
  EXPECT_EQ(p1["opt"], "adam");
  auto scrambled = make_sampler({{"name", "sobol"}}, space, 3, Direction::Minimize);
  auto again = make_sampler({{"name", "sobol"}}, space, 3, Direction::Minimize);
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(*scrambled->ask(i), *again->ask(i));
    seen.insert(scrambled->ask(i)->dump());
  }
  EXPECT_EQ(seen.size(), 64u);
  EXPECT_THROW(make_sampler({{"name", "sobol"}, {"scramble", 1}}, space, 0, Direction::Minimize), Error);
  EXPECT_THROW(make_sampler({{"name", "sobol"}, {"skip", 1}}, space, 0, Direction::Minimize), Error);
}

}  // namespace
}  // namespace autonet::hpsearch
