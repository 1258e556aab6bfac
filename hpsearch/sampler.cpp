#include "hpsearch/sampler.h"

#include <cmath>

#include "hpsearch/options.h"
#include "hpsearch/registry.h"
#include "hpsearch/sobol.h"
#include "hpsearch/tpe.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// A trial's parameters as an internal point and its unit coordinates.
std::vector<double> uniform_unit(SuggestionRng& rng, size_t dims) {
  std::vector<double> u(dims);
  for (double& x : u) x = rng.uniform();
  return u;
}

std::unique_ptr<Sampler> make_random(OptionReader&, const SamplerContext& c) {
  return std::make_unique<RandomSampler>(c.space, c.seed);
}

std::unique_ptr<Sampler> make_grid(OptionReader& options, const SamplerContext& c) {
  const int64_t points = options.integer("points", 5);
  AN_CHECK(points >= 1 && points <= 1 << 20) << "sampler 'grid': points must be >= 1, got " << points;
  return std::make_unique<GridSampler>(c.space, static_cast<int>(points));
}

std::unique_ptr<Sampler> make_halton(OptionReader&, const SamplerContext& c) {
  return std::make_unique<HaltonSampler>(c.space, c.seed);
}

std::unique_ptr<Sampler> make_sobol(OptionReader& options, const SamplerContext& c) {
  const bool scramble = options.boolean("scramble", true);
  AN_CHECK(c.space.size() <= static_cast<size_t>(SobolSequence::kMaxDims))
      << "sampler 'sobol': at most " << SobolSequence::kMaxDims << " parameters, the space has "
      << c.space.size();
  return std::make_unique<SobolSampler>(c.space, c.seed, scramble);
}

std::unique_ptr<Sampler> make_wr2p(OptionReader& options, const SamplerContext& c) {
  const Wr2pOptions o = Wr2pOptions::read(options);
  AN_CHECK(c.direction == Direction::Minimize || o.weights != Wr2pOptions::Weights::Inverse)
      << "sampler 'wr2p': weights \"inverse\" (p ∝ 1/loss) needs a positive loss to minimise; "
         "for a maximised objective use weights \"softmax\" or \"rank\"";
  return std::make_unique<Wr2pSampler>(c.space, c.seed, o, c.direction);
}

std::unique_ptr<Sampler> make_seed_compat(OptionReader&, const SamplerContext& c) {
  AN_CHECK(c.direction == Direction::Minimize)
      << "sampler 'seed-compat' minimises a loss, as the notebook did";
  return std::make_unique<SeedCompatSampler>(c.space, c.seed);
}

Registry<SamplerFactory>& samplers() {
  static Registry<SamplerFactory> r("sampler", {{"random", make_random},
                                                {"grid", make_grid},
                                                {"halton", make_halton},
                                                {"sobol", make_sobol},
                                                {"tpe", make_tpe_sampler},
                                                {"wr2p", make_wr2p},
                                                {"seed-compat", make_seed_compat}});
  return r;
}

}  // namespace

void register_sampler(const std::string& name, SamplerFactory factory) {
  samplers().add(name, std::move(factory));
}

std::vector<std::string> sampler_names() { return samplers().names(); }

std::unique_ptr<Sampler> make_sampler(const Json& config, const Space& space, uint64_t seed,
                                      Direction direction) {
  AN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string())
      << "the sampler must be an object with a \"name\", got " << config.dump();
  const std::string name = config["name"].get<std::string>();
  const SamplerFactory factory = samplers().find(name);
  OptionReader options(config, "sampler '" + name + "'");
  std::unique_ptr<Sampler> sampler = factory(options, {space, seed, direction});
  options.check_all_read();
  return sampler;
}

std::optional<Json> RandomSampler::ask(int64_t index) {
  SuggestionRng rng(seed_, index);
  return space_.params_json(space_.decode(uniform_unit(rng, space_.size())));
}

GridSampler::GridSampler(Space space, int points) : OpenLoopSampler(std::move(space)) {
  for (const ParamSpec& p : space_.params()) {
    std::vector<double> axis;
    if (!p.numeric()) {
      for (size_t i = 0; i < p.choices.size(); ++i) axis.push_back(static_cast<double>(i));
    } else {
      const int n = p.type == ParamType::Int
                        ? static_cast<int>(std::min<double>(points, p.high - p.low + 1))
                        : points;
      for (int i = 0; i < n; ++i) {
        const double x = p.at_fraction(n == 1 ? 0.5 : static_cast<double>(i) / (n - 1));
        if (axis.empty() || axis.back() != x) axis.push_back(x);  // log ints can collide
      }
    }
    axes_.push_back(axis);
    AN_CHECK(size_ < (int64_t{1} << 40) / static_cast<int64_t>(axis.size()))
        << "sampler 'grid': the grid has more than 2^40 points";
    size_ *= static_cast<int64_t>(axis.size());
  }
}

std::optional<Json> GridSampler::ask(int64_t index) {
  if (index < 0 || index >= size_) return std::nullopt;
  Point x(axes_.size());
  for (size_t d = axes_.size(); d-- > 0;) {
    const int64_t n = static_cast<int64_t>(axes_[d].size());
    x[d] = axes_[d][index % n];
    index /= n;
  }
  return space_.params_json(x);
}

HaltonSampler::HaltonSampler(Space space, uint64_t seed) : OpenLoopSampler(std::move(space)) {
  SuggestionRng rng(seed, -1);  // a stream no suggestion uses
  for (size_t d = 0; d < space_.size(); ++d) shift_.push_back(rng.uniform());
}

std::optional<Json> HaltonSampler::ask(int64_t index) {
  static const int kPrimes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
                                59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131};
  AN_CHECK(space_.size() <= std::size(kPrimes))
      << "sampler 'halton': at most " << std::size(kPrimes) << " parameters";
  std::vector<double> u(space_.size());
  for (size_t d = 0; d < u.size(); ++d) {
    // Radical inverse of index+1 in base b (index 0 would put every coordinate at 0).
    double f = 1.0, r = 0.0;
    for (int64_t i = index + 1; i > 0; i /= kPrimes[d]) {
      f /= kPrimes[d];
      r += f * static_cast<double>(i % kPrimes[d]);
    }
    u[d] = std::fmod(r + shift_[d], 1.0);
  }
  return space_.params_json(space_.decode(u));
}

void BestTwo::update(Entry e) {
  if (!best1) {
    best1 = std::move(e);
  } else if (e.loss < best1->loss) {
    best2 = std::move(best1);
    best1 = std::move(e);
  } else if (!best2 || e.loss < best2->loss) {
    best2 = std::move(e);
  }
}

Json BestTwo::to_json(const Space& space) const {
  Json out = Json::object();
  auto entry = [&](const std::optional<Entry>& e) -> Json {
    if (!e) return nullptr;
    return {{"trial", e->trial}, {"loss", e->loss}, {"params", space.params_json(e->x)}};
  };
  out["best1"] = entry(best1);
  out["best2"] = entry(best2);
  return out;
}

}  // namespace autonet::hpsearch
