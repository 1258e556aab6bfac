// Evaluating a saved run, as the official test.py, test_imagenet.py and rnn/test.py do: the
// network of the run's config with the weights of one of its checkpoints — the last completed
// epoch's (checkpoint.safetensors) or the best epoch's (best.safetensors) — in eval mode, over a
// whole split of the run's data (or of another data set with the same classes and image shape,
// or the same vocabulary).
//   CNN training runs (autonet train): top-1, top-5 and mean cross-entropy, with the test
//   transform, no drop path, no auxiliary head.
//   Recurrent runs (rnn-train, rnn-search): mean NLL and perplexity over the split's BPTT
//   windows, with ASGD's averaged weights once the run switched to it (what its validation
//   reported).
// The splits are the run's own: train = the images or tokens it trained on (its --subset,
// without the held-out part), valid = its held-out images (--valid-portion) or the valid tokens,
// test = its test images (--test-subset) or test tokens. The batch sizes are the run's
// evaluation ones (rnn-train's test: --test-batch-size, as train.py's final figure), so the best
// checkpoint's test perplexity is the one the run logged.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "datasets/image_dataset.h"
#include "datasets/text_corpus.h"
#include "run/evaluation.h"
#include "run/run_folder.h"
#include "runtime/device.h"

namespace autonet::darts {

struct EvalOptions {
  std::string split = "test";       // train, valid or test
  std::string checkpoint = "last";  // last or best
  Device device = Device::cpu();
  int64_t batch_size = 0;  // 0: the run's for that split
  int workers = 2;         // loader threads (images)
  void validate() const;   // throws for an unknown split or checkpoint
};

// The checkpoint file `which` (last | best) names in a run folder; a clear error when the
// folder has none (a run stopped before its first epoch ended; best.safetensors from a run
// made before training runs kept one).
std::filesystem::path run_checkpoint(const run::RunFolder& folder, const std::string& which);

struct RunEvaluation {
  std::filesystem::path checkpoint;
  int64_t epochs = 0;  // completed epochs when the checkpoint was written
  run::EvalResult result;
};

// Each takes the folder's lock while it reads it (a running run's folder is refused). Errors
// name the folder: not a CNN training run, no such checkpoint or split, classes or image
// shape that differ from the run's, a checkpoint that does not fit the network.
RunEvaluation evaluate_cnn_run(const std::filesystem::path& run_dir, const data::ImageData& data,
                               const EvalOptions& options);

struct RnnEvaluation {
  std::filesystem::path checkpoint;
  int64_t epochs = 0;
  int64_t tokens = 0;  // tokens of the split evaluated
  double loss = 0;     // mean NLL per token
  double perplexity = 0;
};

// A recurrent run (rnn-train or rnn-search) on `corpus` (the run's, or one with its vocabulary).
RnnEvaluation evaluate_rnn_run(const std::filesystem::path& run_dir,
                               const data::TextCorpus& corpus, const EvalOptions& options);

// Whether a run folder's kind is one evaluate_rnn_run takes.
bool is_rnn_run(const std::string& kind);

}  // namespace autonet::darts
