// Samplers behind one ask/tell interface. Each is deterministic from the study seed: suggestion i
// draws its random numbers from SuggestionRng(seed, i), and its state is a fold of the finished
// trials told in trial-number order. The runner guarantees that order (see runner.h), so a
// resumed study replays the same tells and asks the same questions.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/rng.h"
#include "hpsearch/space.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string name() const = 0;
  // Parameters of the sampler's suggestion number `index` (0, 1, 2, ...); nullopt when the
  // sampler has nothing left to suggest (a finished grid). Does not change the sampler's state.
  virtual std::optional<Json> ask(int64_t index) = 0;
  // A finished trial (any state), in trial-number order, exactly once each.
  virtual void tell(const TrialRecord& trial) = 0;
  // What the sampler has learned, as stored after every tell (a replay must reproduce it).
  virtual Json state() const = 0;
};

// {"name": "wr2p" | "seed-compat" | "random" | "grid" | "halton" | "sobol" (sobol.h) | "tpe"
// (tpe.h), ...options}, or any name given to register_sampler; throws on unknown names, unknown
// options and options of the wrong type, naming them.
std::unique_ptr<Sampler> make_sampler(const Json& config, const Space& space, uint64_t seed,
                                      Direction direction);

// What a sampler is built from besides its options.
struct SamplerContext {
  const Space& space;
  uint64_t seed;
  Direction direction;
};
class OptionReader;
// Reads its options through `options` (make_sampler then rejects any option left unread).
using SamplerFactory =
    std::function<std::unique_ptr<Sampler>(OptionReader& options, const SamplerContext& context)>;
void register_sampler(const std::string& name, SamplerFactory factory);
std::vector<std::string> sampler_names();

// A sampler whose suggestions do not depend on results (random, grid, quasi-random sequences):
// it only counts the tells, which is all its state.
class OpenLoopSampler : public Sampler {
 public:
  explicit OpenLoopSampler(Space space) : space_(std::move(space)) {}
  void tell(const TrialRecord&) override { ++told_; }
  Json state() const override { return {{"told", told_}}; }

 protected:
  Space space_;

 private:
  int64_t told_ = 0;
};

class RandomSampler : public OpenLoopSampler {
 public:
  RandomSampler(Space space, uint64_t seed) : OpenLoopSampler(std::move(space)), seed_(seed) {}
  std::string name() const override { return "random"; }
  std::optional<Json> ask(int64_t index) override;

 private:
  uint64_t seed_;
};

// Cartesian grid: `points` evenly spaced values per numeric parameter (fewer for a narrow int
// range; in log space for log parameters), every choice of a categorical; the last parameter
// varies fastest. Exhausted after size() suggestions.
class GridSampler : public OpenLoopSampler {
 public:
  GridSampler(Space space, int points);
  std::string name() const override { return "grid"; }
  std::optional<Json> ask(int64_t index) override;
  int64_t size() const { return size_; }

 private:
  std::vector<std::vector<double>> axes_;  // internal values per parameter
  int64_t size_ = 1;
};

// Halton sequence (bases 2, 3, 5, ...) with a random shift per dimension from the seed
// (Cranley–Patterson rotation): low discrepancy, cheap, any dimension count.
class HaltonSampler : public OpenLoopSampler {
 public:
  HaltonSampler(Space space, uint64_t seed);
  std::string name() const override { return "halton"; }
  std::optional<Json> ask(int64_t index) override;

 private:
  std::vector<double> shift_;
};

// The best-two memory shared by WR2P and seed-compat: the seed's update rule. A new loss replaces
// best1 (which moves to best2) when strictly lower than best1, else replaces best2 when strictly
// lower than best2; ties keep the earlier point.
struct BestTwo {
  struct Entry {
    Point x;
    double loss = 0;
    int64_t trial = -1;
  };
  std::optional<Entry> best1, best2;
  void update(Entry e);
  Json to_json(const Space& space) const;
};

// WR2P: weighted random search with a two-point initialisation (reference/hpsearch.md §1.4).
struct Wr2pOptions {
  enum class Weights { Inverse, Softmax, Rank } weights = Weights::Inverse;
  enum class Mode { Voronoi, PerDim } mode = Mode::Voronoi;
  double temperature = 1.0;    // softmax: w_k = exp(-v_k / T)
  double epsilon = 1e-12;      // inverse: w_k = 1 / max(v_k, epsilon)
  double alpha = 0.5;          // widening: δ_d = max(alpha·|u1_d − u2_d|, delta_min)
  double delta_min = 0.05;
  double explore = 0.1;        // probability of a uniform draw from the whole unit cube
  double cat_explore = 0.1;    // probability of a uniform category instead of the anchor's
  int max_rejections = 4096;   // Voronoi rejection sampling; then the anchor itself
  static Wr2pOptions read(OptionReader& options);
  Json to_json() const;
};

class Wr2pSampler : public Sampler {
 public:
  // How one suggestion came about (for tests and the study's record).
  struct Draw {
    std::vector<double> u;  // unit-cube coordinates (categoricals: the cell centre)
    Point x;                // decoded point
    enum class Kind { Init, Uniform, Explore, Anchored } kind = Kind::Init;
    int anchor = 0;         // 1 or 2 for Anchored: which of the best two
    int rejections = 0;
  };

  Wr2pSampler(Space space, uint64_t seed, Wr2pOptions options = {},
              Direction direction = Direction::Minimize);
  std::string name() const override { return "wr2p"; }
  std::optional<Json> ask(int64_t index) override;
  void tell(const TrialRecord& trial) override;
  Json state() const override;

  Draw draw(int64_t index) const;
  // Probability of anchoring on best1 given the two losses.
  double anchor_probability(double loss1, double loss2) const;
  // The widened box B (per dimension [lo, hi] ∩ [0,1]) around the best two, in unit coordinates.
  std::vector<std::pair<double, double>> region() const;
  const BestTwo& best() const { return best_; }
  const Wr2pOptions& options() const { return options_; }

 private:
  std::vector<double> sample_voronoi(SuggestionRng& rng, const std::vector<double>& anchor,
                                     const std::vector<double>& other, int& rejections) const;
  std::vector<double> sample_per_dim(SuggestionRng& rng, double p1) const;

  Space space_;
  uint64_t seed_;
  Wr2pOptions options_;
  Direction direction_;
  BestTwo best_;
  int64_t told_ = 0;
};

// The notebook's method (Weighted_Random_CIFAR.ipynb) reproduced with its quirks, for A/B
// comparison; see docs/hpsearch.md. Init points at 0.33 and 0.33+0.67·(1−0.33)=0.7789 of the
// log₃ diagonal (0.33/0.67 for linear parameters), ints truncated; then per coordinate a
// 99-cell grid over the "extended" interval [lo − mid/2, hi + mid/2] split at mid with int()
// truncated percentage counts; no clipping to the box. Float and int parameters only.
class SeedCompatSampler : public Sampler {
 public:
  SeedCompatSampler(Space space, uint64_t seed);
  std::string name() const override { return "seed-compat"; }
  std::optional<Json> ask(int64_t index) override;
  void tell(const TrialRecord& trial) override;
  Json state() const override;

  // The notebook's return_choice_init for one parameter: its two initial values.
  static std::pair<double, double> init_values(double low, double high, bool log);
  // The notebook's return_choice: the cell centres (in value space, after 3^x) it picks from
  // uniformly; `lower_side_cells` is how many lie between the extended low end and mid.
  static std::vector<double> choice_cells(double val1, double val2, double loss1, double loss2,
                                          bool log, int* lower_side_cells = nullptr);
  const BestTwo& best() const { return best_; }

 private:
  Space space_;
  uint64_t seed_;
  BestTwo best_;
  int64_t told_ = 0;
};

}  // namespace autonet::hpsearch
