// Recurrent DARTS runs (darts/rnn_search_trainer.h) on the embedded KJV corpus, with a small
// vocabulary and a tiny model so each run takes a few seconds on the CPU.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "autograd/checkpoint.h"
#include "darts/rnn_search_trainer.h"
#include "darts/run_folder.h"
#include "datasets/kjv.h"

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

RunOptions quiet() {
  RunOptions o;
  o.progress = false;
  return o;
}

std::vector<double> epoch_values(const fs::path& dir, const char* key) {
  std::vector<double> out;
  for (const nlohmann::json& r : RunFolder::open(dir).read_log())
    if (r.value("kind", "") == "epoch") out.push_back(r.at(key).get<double>());
  return out;
}

TEST(RnnSearch, ShortSearchLowersValidationPerplexity) {
  TempDir tmp;
  const RnnOutcome out = run_rnn_search(tiny_run(), small_kjv(), tmp.path, quiet());
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
  const auto log = RunFolder::open(tmp.path).read_log();
  bool has_alpha = false;
  for (const auto& r : log)
    if (r.value("kind", "") == "epoch") has_alpha = r.at("alpha").size() == 36;
  EXPECT_TRUE(has_alpha);
}

TEST(RnnSearch, ResumeContinuesExactly) {
  TempDir straight, split;
  RnnRunConfig c = tiny_run();
  c.epochs = 2;
  c.max_steps = 6;
  run_rnn_search(c, small_kjv(), straight.path, quiet());
  RunOptions stop = quiet();
  stop.stop_after_epochs = 1;
  const RnnOutcome first = run_rnn_search(c, small_kjv(), split.path, stop);
  EXPECT_FALSE(first.finished);
  const RnnOutcome rest = resume_rnn_run(split.path, small_kjv(), quiet());
  EXPECT_TRUE(rest.finished);
  const Checkpoint a = read_checkpoint(straight.path / "checkpoint.safetensors");
  const Checkpoint b = read_checkpoint(split.path / "checkpoint.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors)
    EXPECT_EQ(t.to_vector<float>(), b.tensors.at(name).to_vector<float>()) << name;
  EXPECT_EQ(epoch_values(straight.path, "valid_loss"), epoch_values(split.path, "valid_loss"));
}

TEST(RnnSearch, RejectsBadInput) {
  TempDir tmp;
  RnnRunConfig c = tiny_run();
  c.batch_size = 20000;  // 24,000 train tokens: 1 row
  EXPECT_THROW(run_rnn_search(c, small_kjv(), tmp.path, quiet()), Error);
  EXPECT_FALSE(fs::exists(tmp.path));  // nothing created for a run that cannot start
  c = tiny_run();
  c.unrolled = true;
  EXPECT_THROW(run_rnn_search(c, small_kjv(), tmp.path, quiet()), Error);
  c = tiny_run();
  c.emsize = 8;
  EXPECT_THROW(run_rnn_search(c, small_kjv(), tmp.path, quiet()), Error);

  // A checkpoint resumes only on the vocabulary it was trained with.
  c = tiny_run();
  c.epochs = 2;
  c.max_steps = 2;
  RunOptions stop = quiet();
  stop.stop_after_epochs = 1;
  run_rnn_search(c, small_kjv(), tmp.path, stop);
  const data::TextCorpus other =
      data::corpus_from_texts("kjv", data::prepare_kjv(data::kjv_verses(), 300));
  try {
    resume_rnn_run(tmp.path, other, quiet());
    ADD_FAILURE() << "resumed on another vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary mismatch"), std::string::npos) << e.what();
  }
  // The run folder is intact and still resumes on the right corpus.
  EXPECT_TRUE(resume_rnn_run(tmp.path, small_kjv(), quiet()).finished);
}

TEST(RnnTrain, DerivedCellTrainsAndReportsTestPerplexity) {
  TempDir tmp;
  RnnRunConfig c = rnn_train_defaults();
  const RnnRunConfig tiny = tiny_run();
  c.train_tokens = tiny.train_tokens;
  c.valid_tokens = tiny.valid_tokens;
  c.emsize = c.nhid = 16;
  c.batch_size = 16;
  c.test_batch_size = 10;
  c.bptt = 12;
  c.epochs = 3;
  c.max_steps = 15;
  c.nonmono = 1;
  c.device = "cpu";
  const RnnOutcome out = run_rnn_train(c, small_kjv(), tmp.path, quiet());
  EXPECT_TRUE(out.finished);
  EXPECT_EQ(to_text(out.genotype), to_text(published_rnn_genotype("DARTS_V2")));
  EXPECT_GT(out.test_ppl, 1);
  EXPECT_LT(out.test_ppl, 400);
  EXPECT_TRUE(fs::exists(tmp.path / "best.safetensors"));

  // A NaN loss with nothing to roll back to stops with a clear error.
  TempDir nan_dir;
  c.learning_rate = 1e38;
  c.grad_clip = 1e38;
  try {
    run_rnn_train(c, small_kjv(), nan_dir.path, quiet());
    ADD_FAILURE() << "a diverging run did not stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loss became"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace autonet::darts
