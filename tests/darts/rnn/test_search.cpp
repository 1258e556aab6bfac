// Recurrent DARTS runs (darts/rnn/trainer.h) on the embedded KJV corpus, with a small
// vocabulary and a tiny model so each run takes a few seconds on the CPU.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "autograd/checkpoint.h"
#include "darts/rnn/trainer.h"
#include "datasets/kjv.h"
#include "run/run_folder.h"
#include "tests/autograd/version1_checkpoint.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;

const data::TextCorpus& small_kjv() {
  static const data::TextCorpus corpus =
      data::corpus_from_texts("kjv", data::prepare_kjv(data::kjv_verses(), 400));
  return corpus;
}

RnnRunConfig tiny_run() {
  RnnRunConfig c;
  c.train_tokens = 24000;
  c.valid_tokens = 3000;
  c.emsize = c.nhid = 16;
  c.batch_size = 16;
  c.eval_batch_size = 10;
  c.test_batch_size = 10;
  c.bptt = 12;
  c.epochs = 3;
  c.max_steps = 20;
  c.device = "cpu";
  c.log_every = 5;
  return c;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("autonet_rnn_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::vector<double> epoch_values(const fs::path& dir, const char* key) {
  std::vector<double> out;
  for (const nlohmann::json& r : run::RunFolder::open(dir).read_log())
    if (r.value("kind", "") == "epoch") out.push_back(r.at(key).get<double>());
  return out;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Two run folders ended in the same state: every checkpoint tensor bit for bit, the same
// validation losses logged.
void expect_same_end(const fs::path& straight, const fs::path& split) {
  const Checkpoint a = read_checkpoint(straight / "checkpoint.safetensors");
  const Checkpoint b = read_checkpoint(split / "checkpoint.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors)
    EXPECT_EQ(t.to_vector<float>(), b.tensors.at(name).to_vector<float>()) << name;
  EXPECT_EQ(epoch_values(straight, "valid_loss"), epoch_values(split, "valid_loss"));
}

TEST(RnnSearch, ShortSearchLowersValidationPerplexity) {
  TempDir tmp;
  const RnnOutcome out = run_rnn_search(tiny_run(), small_kjv(), tmp.path, RunOptions::quiet());
  EXPECT_TRUE(out.finished);
  EXPECT_EQ(out.epochs_done, 3);
  const std::vector<double> ppl = epoch_values(tmp.path, "valid_ppl");
  ASSERT_EQ(ppl.size(), 3u);
  // At initialisation every word is about equally likely: perplexity ≈ the vocabulary (400).
  EXPECT_LT(ppl[0], 300);
  EXPECT_LT(ppl[2], ppl[0]);
  EXPECT_TRUE(fs::exists(tmp.path / "genotype.txt"));
  EXPECT_TRUE(fs::exists(tmp.path / "recurrent.dot"));
  EXPECT_EQ(out.genotype.recurrent.size(), 8u);
  // α moved away from its 1e-3·N(0, 1) start and is logged every epoch.
  const auto log = run::RunFolder::open(tmp.path).read_log();
  bool has_alpha = false;
  for (const auto& r : log)
    if (r.value("kind", "") == "epoch") has_alpha = r.at("alpha").size() == 36;
  EXPECT_TRUE(has_alpha);

  // report.html: perplexity curves, α of the recurrent cell over the epochs, the cell drawing.
  const std::string report = file_bytes(tmp.path / "report.html");
  for (const char* section :
       {"Recurrent DARTS search", "<h2>Training curves</h2>", "Perplexity", "valid (epoch)",
        "train (running mean)", "recurrent cell: mean weight per operation",
        "recurrent after epoch 3", "s8←s7", "sigmoid", "<h2>Cells</h2>", "<h3>recurrent cell",
        "(best ppl ", "<h2>Resolved config</h2>"})
    EXPECT_NE(report.find(section), std::string::npos) << section;
  EXPECT_EQ(report.find("accuracy"), std::string::npos);
}

TEST(RnnSearch, ResumeContinuesExactly) {
  TempDir straight, split;
  RnnRunConfig c = tiny_run();
  c.epochs = 2;
  c.max_steps = 6;
  run_rnn_search(c, small_kjv(), straight.path, RunOptions::quiet());
  RunOptions stop = RunOptions::quiet();
  stop.stop_after_epochs = 1;
  const RnnOutcome first = run_rnn_search(c, small_kjv(), split.path, stop);
  EXPECT_FALSE(first.finished);
  const RnnOutcome rest = resume_rnn_run(split.path, small_kjv(), RunOptions::quiet());
  EXPECT_TRUE(rest.finished);
  expect_same_end(straight.path, split.path);
}

TEST(RnnSearch, RejectsBadInput) {
  TempDir tmp;
  RnnRunConfig c = tiny_run();
  c.batch_size = 20000;  // 24,000 train tokens: 1 row
  EXPECT_THROW(run_rnn_search(c, small_kjv(), tmp.path, RunOptions::quiet()), Error);
  EXPECT_FALSE(fs::exists(tmp.path));  // nothing created for a run that cannot start
  c = tiny_run();
  c.emsize = 8;
  EXPECT_THROW(run_rnn_search(c, small_kjv(), tmp.path, RunOptions::quiet()), Error);

  // A checkpoint resumes only on the vocabulary it was trained with.
  c = tiny_run();
  c.epochs = 2;
  c.max_steps = 2;
  RunOptions stop = RunOptions::quiet();
  stop.stop_after_epochs = 1;
  run_rnn_search(c, small_kjv(), tmp.path, stop);
  const data::TextCorpus other =
      data::corpus_from_texts("kjv", data::prepare_kjv(data::kjv_verses(), 300));
  try {
    resume_rnn_run(tmp.path, other, RunOptions::quiet());
    ADD_FAILURE() << "resumed on another vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary mismatch"), std::string::npos) << e.what();
  }
  // The run folder is intact and still resumes on the right corpus.
  EXPECT_TRUE(resume_rnn_run(tmp.path, small_kjv(), RunOptions::quiet()).finished);
}

// A second-order search runs its α steps (§7.8) and moves α elsewhere than the first order.
TEST(RnnSearch, UnrolledSearchRuns) {
  TempDir first, second;
  RnnRunConfig c = tiny_run();
  c.epochs = 1;
  c.max_steps = 4;
  run_rnn_search(c, small_kjv(), first.path, RunOptions::quiet());
  c.unrolled = true;
  const RnnOutcome out = run_rnn_search(c, small_kjv(), second.path, RunOptions::quiet());
  EXPECT_TRUE(out.finished);
  const std::vector<double> ppl = epoch_values(second.path, "valid_ppl");
  ASSERT_EQ(ppl.size(), 1u);
  EXPECT_TRUE(std::isfinite(ppl[0]));
  const Checkpoint a = read_checkpoint(first.path / "checkpoint.safetensors");
  const Checkpoint b = read_checkpoint(second.path / "checkpoint.safetensors");
  EXPECT_NE(a.tensors.at("arch.weights").to_vector<float>(),
            b.tensors.at("arch.weights").to_vector<float>());
}

RnnRunConfig tiny_train() {
  RnnRunConfig c = rnn_train_defaults();
  const RnnRunConfig tiny = tiny_run();
  c.train_tokens = tiny.train_tokens;
  c.valid_tokens = tiny.valid_tokens;
  c.emsize = c.nhid = 16;
  c.batch_size = 16;
  c.test_batch_size = 10;
  c.bptt = 12;
  c.epochs = 3;
  c.max_steps = 8;
  c.nonmono = 1;
  c.device = "cpu";
  return c;
}

// Rewrites the trainer's state in a checkpoint (a constructed history, a forgotten best).
void edit_state(const fs::path& checkpoint, const std::function<void(nlohmann::json&)>& edit) {
  Checkpoint c = read_checkpoint(checkpoint);
  edit(c.state);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, t] : c.tensors) tensors.push_back({name, t});
  save_checkpoint(checkpoint, tensors, c.state);
}

std::vector<nlohmann::json> records(const fs::path& dir, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : run::RunFolder::open(dir).read_log())
    if (r.value("kind", "") == kind) out.push_back(r);
  return out;
}

// A derived model's weights in creation order: each size is a multiple of the flat buffers'
// 16-element alignment here, so this is the flat weight buffer without its trailing padding.
std::vector<float> flat_weights(const Checkpoint& c) {
  std::vector<std::string> names{"encoder.weight", "rnns.0._W0"};
  for (int i = 0; i < 8; ++i) names.push_back("rnns.0._Ws." + std::to_string(i));
  names.push_back("decoder.bias");
  std::vector<float> w;
  for (const std::string& name : names) {
    const std::vector<float> v = c.tensors.at("model." + name).to_vector<float>();
    w.insert(w.end(), v.begin(), v.end());
  }
  return w;
}

// train.py's rule: more than `nonmono` losses recorded and the current one worse than the best
// of all but the last `nonmono`.
TEST(RnnTrain, AsgdSwitchFollowsTheNonMonotoneRule) {
  const std::vector<double> improving{5.0, 4.0, 3.0, 2.0, 1.5, 1.0};
  EXPECT_FALSE(asgd_switch_due(improving, 0.9, 5));  // still improving
  EXPECT_FALSE(asgd_switch_due(improving, 4.9, 5));  // worse than the last 5, not than 5.0
  EXPECT_FALSE(asgd_switch_due(improving, 5.0, 5));  // equal is not worse
  EXPECT_TRUE(asgd_switch_due(improving, 5.1, 5));   // worse than every loss before the window
  EXPECT_FALSE(asgd_switch_due({5.0, 4.0, 3.0, 2.0, 1.0}, 100.0, 5));  // not more than 5 yet
  // Noisy but still better than the best before the window: no switch.
  const std::vector<double> noisy{5.0, 4.5, 4.6, 4.2, 4.3, 4.0, 4.1};
  EXPECT_FALSE(asgd_switch_due(noisy, 4.15, 2));
  EXPECT_TRUE(asgd_switch_due(noisy, 4.25, 2));  // min of {5, 4.5, 4.6, 4.2, 4.3} = 4.2
  EXPECT_TRUE(asgd_switch_due({3.0, 2.0}, 3.5, 1));
  EXPECT_FALSE(asgd_switch_due({3.0, 2.0}, 2.5, 1));
  EXPECT_THROW(asgd_switch_due(improving, 1.0, 0), Error);
}

// After the switch each epoch is validated with ASGD's average (best.safetensors holds it) while
// training goes on from the raw weights (the checkpoint holds those, and a run resumed from it
// ends bit-identical to one that never stopped).
TEST(RnnTrain, AveragedWeightsEvaluateAndRawWeightsTrain) {
  TempDir base, straight, split;
  RnnRunConfig c = tiny_train();
  c.epochs = 4;
  RunOptions one = RunOptions::quiet();
  one.stop_after_epochs = 1;
  run_rnn_train(c, small_kjv(), base.path, one);
  const fs::path ckpt = base.path / "checkpoint.safetensors";
  // A history no loss can beat: the next epoch (validated with SGD's weights) switches.
  edit_state(ckpt, [](nlohmann::json& s) { s["valid_history"] = std::vector<double>{0.0, 0.0}; });
  resume_rnn_run(base.path, small_kjv(), one);
  std::vector<nlohmann::json> epochs = records(base.path, "epoch");
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_FALSE(epochs[0].at("switched_to_asgd").get<bool>());
  EXPECT_TRUE(epochs[1].at("switched_to_asgd").get<bool>());
  EXPECT_FALSE(epochs[1].at("valid_averaged").get<bool>());
  EXPECT_EQ(read_checkpoint(ckpt).state.at("w_optimizer").at("kind"), "asgd");
  // Forget the best loss, so the first averaged validation is saved as the best.
  edit_state(ckpt, [](nlohmann::json& s) { s["best_valid_loss"] = 1e300; });
  fs::copy(base.path, straight.path, fs::copy_options::recursive);
  fs::copy(base.path, split.path, fs::copy_options::recursive);

  resume_rnn_run(split.path, small_kjv(), one);
  epochs = records(split.path, "epoch");
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_EQ(epochs[2].at("optimizer"), "asgd");
  EXPECT_TRUE(epochs[2].at("valid_averaged").get<bool>());
  EXPECT_EQ(epochs[2].at("best_epoch"), 2);
  const Checkpoint best = read_checkpoint(split.path / "best.safetensors");
  const Checkpoint last = read_checkpoint(split.path / "checkpoint.safetensors");
  EXPECT_EQ(best.state.at("epoch"), 3);
  std::vector<float> average = last.tensors.at("w_optimizer.ax").to_vector<float>();
  EXPECT_EQ(best.tensors.at("w_optimizer.ax").to_vector<float>(), average);
  const std::vector<float> evaluated = flat_weights(best), raw = flat_weights(last);
  ASSERT_LE(evaluated.size(), average.size());
  average.resize(evaluated.size());
  EXPECT_EQ(evaluated, average) << "the validation did not run on the averaged weights";
  EXPECT_NE(raw, average) << "the raw weights were not swapped back";

  resume_rnn_run(split.path, small_kjv(), RunOptions::quiet());
  resume_rnn_run(straight.path, small_kjv(), RunOptions::quiet());
  expect_same_end(straight.path, split.path);
}

// A NaN loss rolls back to the best checkpoint (weights, optimizer, epoch) and the run goes on.
TEST(RnnTrain, NanLossRollsBackAndContinues) {
  TempDir tmp;
  RunOptions o = RunOptions::quiet();
  int poisoned = 0;
  o.poison_weights = [&](int64_t epoch, int64_t step) {
    return epoch == 1 && step == 3 && poisoned++ == 0;
  };
  const RnnOutcome out = run_rnn_train(tiny_train(), small_kjv(), tmp.path, o);
  EXPECT_EQ(poisoned, 2);  // asked again after the rollback, and let through
  EXPECT_TRUE(out.finished);
  EXPECT_TRUE(std::isfinite(out.test_ppl));
  const std::vector<nlohmann::json> rollbacks = records(tmp.path, "rollback");
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0].at("epoch"), 1);  // the best checkpoint was saved after epoch 0
  EXPECT_NE(rollbacks[0].at("reason").get<std::string>().find("loss became nan"),
            std::string::npos);
  // Epoch 1 is logged once, by its second try; the rolled-back try left no record.
  std::vector<int64_t> logged;
  for (const nlohmann::json& e : records(tmp.path, "epoch")) logged.push_back(e.at("epoch"));
  EXPECT_EQ(logged, (std::vector<int64_t>{0, 1, 2}));
}

// A NaN at every try stops after 10 rollbacks with the checkpoints as they were; the run then
// resumes from them.
TEST(RnnTrain, RepeatedNanStopsWithTheCheckpointsKept) {
  TempDir tmp;
  RunOptions one = RunOptions::quiet();
  one.stop_after_epochs = 1;
  run_rnn_train(tiny_train(), small_kjv(), tmp.path, one);
  const std::string ckpt = file_bytes(tmp.path / "checkpoint.safetensors");
  const std::string best = file_bytes(tmp.path / "best.safetensors");
  RunOptions always = RunOptions::quiet();
  always.poison_weights = [](int64_t, int64_t step) { return step == 1; };
  try {
    resume_rnn_run(tmp.path, small_kjv(), always);
    ADD_FAILURE() << "a run that diverges at every try did not stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("after 10 rollbacks"), std::string::npos) << e.what();
  }
  EXPECT_EQ(records(tmp.path, "rollback").size(), 10u);
  EXPECT_EQ(file_bytes(tmp.path / "checkpoint.safetensors"), ckpt);
  EXPECT_EQ(file_bytes(tmp.path / "best.safetensors"), best);
  EXPECT_TRUE(resume_rnn_run(tmp.path, small_kjv(), RunOptions::quiet()).finished);
}

// A folder of an earlier build: the checkpoint and the best checkpoint in version 1's layout, the
// checkpoint's save killed between its two renames. It resumes exactly, and a NaN rollback reads
// the version-1 best checkpoint.
TEST(RnnTrain, ResumesVersion1CheckpointsAndRollsBackToAVersion1Best) {
  TempDir straight, split, rollback;
  RnnRunConfig c = tiny_train();
  c.epochs = 2;
  run_rnn_train(c, small_kjv(), straight.path, RunOptions::quiet());
  RunOptions one = RunOptions::quiet();
  one.stop_after_epochs = 1;
  run_rnn_train(c, small_kjv(), split.path, one);
  test::rewrite_as_version1(split.path / "best.safetensors", "0000be57");
  test::rewrite_as_version1(split.path / "checkpoint.safetensors", "0000c4c4",
                            split.path / "checkpoint.safetensors.json.tmp");
  fs::copy(split.path, rollback.path, fs::copy_options::recursive);

  EXPECT_TRUE(resume_rnn_run(split.path, small_kjv(), RunOptions::quiet()).finished);
  expect_same_end(straight.path, split.path);

  RunOptions poison = RunOptions::quiet();
  int poisoned = 0;
  poison.poison_weights = [&](int64_t, int64_t step) { return step == 1 && poisoned++ == 0; };
  EXPECT_TRUE(resume_rnn_run(rollback.path, small_kjv(), poison).finished);
  EXPECT_EQ(records(rollback.path, "rollback").size(), 1u);
}

TEST(RnnTrain, DerivedCellTrainsAndReportsTestPerplexity) {
  TempDir tmp;
  RnnRunConfig c = tiny_train();
  c.max_steps = 15;
  const RnnOutcome out = run_rnn_train(c, small_kjv(), tmp.path, RunOptions::quiet());
  EXPECT_TRUE(out.finished);
  EXPECT_EQ(to_text(out.genotype), to_text(published_rnn_genotype("DARTS_V2")));
  EXPECT_GT(out.test_ppl, 1);
  EXPECT_LT(out.test_ppl, 400);
  EXPECT_TRUE(fs::exists(tmp.path / "best.safetensors"));
  const std::string report = file_bytes(tmp.path / "report.html");
  for (const char* section : {"Recurrent cell training", "Perplexity", "test (best checkpoint)",
                              "weights&#39; optimizer", "<h3>recurrent cell"})
    EXPECT_NE(report.find(section), std::string::npos) << section;
  EXPECT_EQ(report.find("Architecture weights"), std::string::npos);  // a derived cell has no α

  // A NaN loss with nothing to roll back to stops with a clear error.
  TempDir nan_dir;
  c.learning_rate = 1e38;
  c.grad_clip = 1e38;
  try {
    run_rnn_train(c, small_kjv(), nan_dir.path, RunOptions::quiet());
    ADD_FAILURE() << "a diverging run did not stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loss became"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace autonet::darts
