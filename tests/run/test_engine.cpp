// The run engine with a toy task (the smallest method one can add, docs/architecture.md "How to
// add a search method"): one weight w fitted to y = 3x by SGD on a Philox stream of x. It shows
// what every task gets from the engine: exact resume, the epoch log, the named best checkpoint,
// the rollback after a divergence, and checkpoints refused when the weights are not finite.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "run/engine.h"
#include "runtime/error.h"
#include "runtime/philox.h"
#include "tests/darts/tiny_data.h"

namespace autonet::run {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ToyConfig {
  int64_t epochs = 4;
  int64_t steps = 5;  // per epoch
  double learning_rate = 0.1;
  uint64_t seed = 7;
};

class ToyTask : public Task {
 public:
  explicit ToyTask(const ToyConfig& config, std::string kind = "toy")
      : config_(config), kind_(std::move(kind)), w_(Tensor::zeros({1}, DType::f64)) {}

  std::string kind() const override { return kind_; }
  int64_t epochs() const override { return config_.epochs; }
  std::vector<NamedTensor> state_tensors() const override { return {{"model.w", w_}}; }
  json state() const override {
    return {{"samples", samples_}, {"best", {{"loss", best_.value}, {"epoch", best_.epoch}}}};
  }
  std::vector<Tensor> flat_weights() const override { return {w_}; }
  void restore(const json& state, Restore what) override {
    if (what == Restore::rollback) return;  // w came with the tensors; the x stream goes on
    samples_ = state.at("samples").get<uint64_t>();
    best_.value = state.at("best").at("loss").get<double>();
    best_.epoch = state.at("best").at("epoch").get<int64_t>();
  }

  EpochResult run_epoch(Engine& engine) override {
    double& w = *w_.data<double>();
    for (int64_t step = 0; step < config_.steps; ++step) {
      const RunOptions& o = engine.options();
      if (o.poison_weights && o.poison_weights(engine.epoch(), step))
        w = std::numeric_limits<double>::quiet_NaN();
      const double x = philox_uniform(PhiloxKey{config_.seed, 1, 0}, samples_++);
      w -= config_.learning_rate * 2 * (w * x - 3 * x) * x;  // d/dw (wx − 3x)²
      if (!std::isfinite(w) && diverged_throws_)
        throw Diverged{"the weight became nan at epoch " + std::to_string(engine.epoch())};
      engine.count_step();
    }
    const double loss = (w - 3) * (w - 3);  // mean of (wx − 3x)² over x ~ U(0, 1), × 3
    if (best_.update(loss, engine.epoch())) engine.save_best();
    return {{{"loss", loss}, {"w", w}, {"best_epoch", best_.epoch}},
            "loss " + std::to_string(loss)};
  }

  bool diverged_throws_ = true;

 private:
  ToyConfig config_;
  std::string kind_;
  Tensor w_;
  uint64_t samples_ = 0;
  Best best_{1e300, -1, false};
};

bool run_toy(const fs::path& dir, const RunOptions& options, bool resume = false,
             const std::string& kind = "toy") {
  ToyTask task(ToyConfig{}, kind);
  Engine engine(task, resume ? RunFolder::open(dir) : create_run_folder(dir, {{"toy", true}}, {}),
                options);
  if (resume) engine.resume();
  return engine.run();
}

TEST(Engine, ResumeIsExactAndTheLogIsWhole) {
  test::TempDir tmp("engine-resume");
  EXPECT_TRUE(run_toy(tmp / "whole", RunOptions::quiet()));
  EXPECT_FALSE(run_toy(tmp / "split", RunOptions::quiet(2)));
  EXPECT_TRUE(run_toy(tmp / "split", RunOptions::quiet(), /*resume=*/true));
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
  const std::vector<json> log = test::log_without_timing(tmp / "whole" / "log.jsonl");
  EXPECT_EQ(log, test::log_without_timing(tmp / "split" / "log.jsonl"));
  ASSERT_EQ(log.size(), 4u);
  for (int64_t e = 0; e < 4; ++e) {
    EXPECT_EQ(log[e]["kind"], "epoch");
    EXPECT_EQ(log[e]["epoch"], e);
    EXPECT_EQ(log[e]["step"], 5 * (e + 1));
  }
  EXPECT_LT(log[3]["loss"].get<double>(), log[0]["loss"].get<double>());
  // The checkpoint's sidecar: the task's state and the engine's counters.
  const json state = read_checkpoint(tmp / "whole" / "checkpoint.safetensors").state;
  EXPECT_EQ(state["kind"], "toy");
  EXPECT_EQ(state["epoch"], 4);
  EXPECT_EQ(state["global_step"], 20);
  EXPECT_EQ(state["samples"], 20);
  // The loss falls every epoch, so the best checkpoint is the last epoch's.
  const Checkpoint best = read_checkpoint(tmp / "whole" / "best.safetensors");
  EXPECT_EQ(best.state["epoch"], 4);
  EXPECT_EQ(best.state["kind"], "toy");
}

TEST(Engine, DivergenceRollsBackToTheBestCheckpoint) {
  test::TempDir tmp("engine-rollback");
  RunOptions o = RunOptions::quiet();
  int poisoned = 0;
  o.poison_weights = [&](int64_t epoch, int64_t step) {
    return epoch == 2 && step == 1 && poisoned++ == 0;
  };
  EXPECT_TRUE(run_toy(tmp / "run", o));
  std::vector<int64_t> epochs, rollbacks;
  for (const json& r : RunFolder::open(tmp / "run").read_log()) {
    if (r["kind"] == "epoch") epochs.push_back(r["epoch"]);
    if (r["kind"] == "rollback") rollbacks.push_back(r["epoch"]);
  }
  EXPECT_EQ(epochs, (std::vector<int64_t>{0, 1, 2, 3}));  // epoch 2 logged once, by its retry
  EXPECT_EQ(rollbacks, (std::vector<int64_t>{2}));        // back to the end of epoch 1
  EXPECT_TRUE(std::isfinite(read_checkpoint(tmp / "run" / "checkpoint.safetensors")
                                .tensors.at("model.w")
                                .to_vector<double>()[0]));

  // Diverging before any best checkpoint exists stops with a clear error.
  RunOptions early = RunOptions::quiet();
  early.poison_weights = [](int64_t epoch, int64_t) { return epoch == 0; };
  try {
    run_toy(tmp / "early", early);
    FAIL() << "a divergence with nothing to roll back to must stop the run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to roll back to"), std::string::npos) << e.what();
  }
}

TEST(Engine, NonFiniteWeightsAreNeverCheckpointed) {
  test::TempDir tmp("engine-nan");
  EXPECT_FALSE(run_toy(tmp / "run", RunOptions::quiet(1)));
  const std::string checkpoint = test::read_file(tmp / "run" / "checkpoint.safetensors");
  ToyTask task(ToyConfig{});
  task.diverged_throws_ = false;  // a task without a rollback: the NaN reaches the checkpoint
  RunOptions o = RunOptions::quiet();
  o.poison_weights = [](int64_t, int64_t step) { return step == 0; };
  Engine engine(task, RunFolder::open(tmp / "run"), o);
  engine.resume();
  try {
    engine.run();
    FAIL() << "a checkpoint of NaN weights was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("after epoch 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(tmp / "run" / "checkpoint.safetensors"), checkpoint);
}

TEST(Engine, ResumeRefusesWhatItCannotContinue) {
  test::TempDir tmp("engine-errors");
  auto message = [&](const fs::path& dir, const std::string& kind) {
    try {
      run_toy(dir, RunOptions::quiet(), /*resume=*/true, kind);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  run_toy(tmp / "fresh", RunOptions::quiet(0));
  EXPECT_NE(message(tmp / "fresh", "toy").find("holds no checkpoint"), std::string::npos);
  run_toy(tmp / "one", RunOptions::quiet(1));
  EXPECT_NE(message(tmp / "one", "other").find("not a other checkpoint"), std::string::npos);
  EXPECT_TRUE(run_toy(tmp / "one", RunOptions::quiet(), true));
}

}  // namespace
}  // namespace autonet::run
