// A small corpus and tiny recurrent run configs, so a recurrent run takes a few seconds on the CPU.
#pragma once
#include "darts/rnn/trainer.h"
#include "datasets/kjv.h"

namespace autonet::test {

// The embedded KJV corpus with a 400-word vocabulary.
inline const data::TextCorpus& small_kjv() {
  static const data::TextCorpus corpus =
      data::corpus_from_texts("kjv", data::prepare_kjv(data::kjv_verses(), 400));
  return corpus;
}

// What both tiny runs share: the first 24000 train and 3000 valid/test tokens, size 16,
// batches of 16 over 12 steps (10 for validation and test), 3 epochs on the CPU.
inline darts::RnnRunConfig tiny_rnn_sizes(darts::RnnRunConfig c) {
  c.train_tokens = 24000;
  c.valid_tokens = 3000;
  c.emsize = c.nhid = 16;
  c.batch_size = 16;
  c.eval_batch_size = 10;
  c.test_batch_size = 10;
  c.bptt = 12;
  c.epochs = 3;
  c.device = "cpu";
  return c;
}

// A search: 3 epochs of 20 steps, size 16.
inline darts::RnnRunConfig tiny_rnn_search() {
  darts::RnnRunConfig c = tiny_rnn_sizes(darts::RnnRunConfig{});
  c.max_steps = 20;
  c.log_every = 5;
  return c;
}

// A derived cell's training (train.py's defaults otherwise): 3 epochs of 8 steps, size 16.
inline darts::RnnRunConfig tiny_rnn_train() {
  darts::RnnRunConfig c = tiny_rnn_sizes(darts::rnn_train_defaults());
  c.max_steps = 8;
  c.nonmono = 1;
  return c;
}

}  // namespace autonet::test
