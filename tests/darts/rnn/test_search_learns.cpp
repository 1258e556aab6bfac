// The recurrent search must learn, and its two steps must read different streams. A planted
// corpus: ten words in a fixed cycle, "w0 w1 … w9 <eos>" line after line in the train split and
// the cycle reversed, "w9 w8 … w0 <eos>", in the valid split. The unigram entropy of either split
// is ln 11 ≈ 2.40: no prediction that ignores the previous word does better, so an untrained
// model (≈ ln 12 ≈ 2.48, every word equally likely) cannot meet a bound below it; a model that
// learned the train cycle predicts the reversed one confidently wrong.
//  - The weight steps' NLL (train_loss of the last epoch) must end far below ln 11: the weights
//    learned a cycle.
//  - The α steps' NLL (arch_loss, on the valid stream) must stay above ln 11: the α step reads a
//    stream the weights did not learn. Had the weight step read the valid stream, or the α step
//    the train stream, both losses would be low. (Both swapped at once would pass: the two
//    cycles are symmetric. The α step's own data is checked in rnn/test_architect.cpp.)
// Both figures are train-mode NLLs, as the steps compute them; the eval-mode perplexity of the
// search model is poor on either stream after so few steps, since its one batch norm shared by
// all nodes (as the official model_search.py) keeps running statistics of all nodes together.
// Dropout is off so a few dozen steps suffice. Measured (3 epochs of 25 steps, ~2 s): train_loss
// 0.004 and 0.001, arch_loss 11.3 and 11.0 (first and second order).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "darts/rnn/trainer.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

// `lines` lines of the ten words in order (or reversed).
std::string cycle_text(int lines, bool reversed) {
  std::string line;
  for (int i = 0; i < 10; ++i) line += "w" + std::to_string(reversed ? 9 - i : i) + " ";
  std::string text;
  for (int l = 0; l < lines; ++l) text += line + "\n";
  return text;
}

// 401 and 101 lines: batchify's columns then start at different words (with 400 lines of 11
// tokens every column of 8 would hold the same word at each row, and the search cell's batch norm
// would see no variance at all: the search refuses that, see the last test).
const data::TextCorpus& planted_corpus() {
  static const data::TextCorpus corpus = data::corpus_from_texts(
      "cycles", {cycle_text(401, false), cycle_text(101, true), cycle_text(101, true)});
  return corpus;
}

RnnRunConfig planted_search(bool unrolled) {
  RnnRunConfig c;
  c.emsize = c.nhid = 16;
  c.dropout = c.dropouth = c.dropoutx = c.dropouti = c.dropoute = 0;
  c.batch_size = 8;
  c.eval_batch_size = 8;
  c.bptt = 10;
  c.epochs = 3;
  c.max_steps = 25;
  c.unrolled = unrolled;
  c.device = "cpu";
  c.log_every = 0;
  return c;
}

void expect_each_step_learns_its_own_stream(bool unrolled) {
  test::TempDir tmp(unrolled ? "rnn-learns-2nd" : "rnn-learns-1st");
  const double context_free = std::log(11.0);  // the unigram entropy of either split
  run_rnn_search(planted_search(unrolled), planted_corpus(), tmp / "run", RunOptions::quiet());
  nlohmann::json last;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "run" / "log.jsonl"))
    if (r["kind"] == "epoch") last = r;
  EXPECT_LT(last["train_loss"].get<double>(), 0.5 * context_free);
  EXPECT_GT(last["arch_loss"].get<double>(), context_free);
}

TEST(RnnSearchLearns, FirstOrderWeightsLearnOneStreamAndAlphaReadsTheOther) {
  expect_each_step_learns_its_own_stream(false);
}

TEST(RnnSearchLearns, SecondOrderWeightsLearnOneStreamAndAlphaReadsTheOther) {
  expect_each_step_learns_its_own_stream(true);
}

// 400 lines of 11 tokens in 8 columns of 550: every column holds the same words. In training the
// batch norm then normalises every state to 0 and its running variance decays towards 0; the
// evaluation after the first epoch scaled each normalisation by up to 1/sqrt(eps), the states
// overflowed within a step, and the run stopped on a NaN validation loss. Now the search refuses
// the split before it starts, naming the flag.
TEST(RnnSearchLearns, RefusesATrainSplitWhoseColumnsAreAllTheSame) {
  const data::TextCorpus corpus = data::corpus_from_texts(
      "cycles", {cycle_text(400, false), cycle_text(101, true), cycle_text(101, true)});
  test::TempDir tmp("rnn-same-columns");
  try {
    run_rnn_search(planted_search(false), corpus, tmp / "run", RunOptions::quiet());
    FAIL() << "a train split whose columns are all the same was accepted";
  } catch (const Error& e) {
    const std::string message = e.message();
    EXPECT_NE(message.find("the train split cut into 8 columns of 550 tokens (--batch-size 8) gives "
                           "every column the same tokens"),
              std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace autonet::darts
