// A sampler added through the registry (hpsearch/sampler.h, register_sampler), as
// docs/architecture.md's "How to add a sampler" describes: named in a study's config, built with
// its options, refused with an unknown option, and asked by the runner for every trial.
#include <gtest/gtest.h>

#include "hpsearch/options.h"
#include "hpsearch/sampler.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using testing::create_study;
using testing::ScratchDir;
using testing::synthetic_config;
using testing::worker_options;

// Suggests the same point every time: each parameter at `fraction` of its range.
class FixedFractionSampler : public Sampler {
 public:
  FixedFractionSampler(Space space, double fraction) : space_(std::move(space)), u_(fraction) {}
  std::string name() const override { return "fixed-fraction"; }
  std::optional<Json> ask(int64_t) override {
    return space_.params_json(space_.decode(std::vector<double>(space_.size(), u_)));
  }
  void tell(const TrialRecord&) override { ++told_; }
  Json state() const override { return {{"told", told_}}; }

 private:
  Space space_;
  double u_;
  int64_t told_ = 0;
};

void register_fixed_fraction() {
  register_sampler("fixed-fraction", [](OptionReader& options, const SamplerContext& context) {
    return std::make_unique<FixedFractionSampler>(context.space, options.number("fraction", 0.5));
  });
}

TEST(SamplerRegistry, ARegisteredSamplerRunsAStudy) {
  register_fixed_fraction();
  ScratchDir dir;
  Json config = synthetic_config({}, 2);
  config["sampler"] = {{"name", "fixed-fraction"}, {"fraction", 0.25}};
  const std::string path = create_study(dir.file("s.db"), config);
  EXPECT_EQ(run_study(path, worker_options()).complete, 2);
  for (const TrialRecord& t : StudyStore::open(path, true).trials())
    EXPECT_DOUBLE_EQ(t.params["x"].get<double>(), 0.25) << "trial " << t.number;
}

TEST(SamplerRegistry, ItsOptionsAreCheckedLikeTheBuiltInOnes) {
  register_fixed_fraction();
  const Space space = StudyConfig::from_json(synthetic_config()).space;
  EXPECT_EQ(make_sampler({{"name", "fixed-fraction"}}, space, 0, Direction::Minimize)->name(),
            "fixed-fraction");
  const std::string typo = testing::error_of([&] {
    make_sampler({{"name", "fixed-fraction"}, {"fractoin", 0.3}}, space, 0, Direction::Minimize);
  });
  EXPECT_NE(typo.find("fractoin"), std::string::npos) << typo;
  const std::string unknown = testing::error_of([&] {
    make_sampler({{"name", "fixed-fractions"}}, space, 0, Direction::Minimize);
  });
  EXPECT_NE(unknown.find("fixed-fraction,"), std::string::npos) << unknown;  // listed as known
}

}  // namespace
}  // namespace autonet::hpsearch
