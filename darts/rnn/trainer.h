// Recurrent DARTS runs over a run folder, as two tasks of the run engine (darts/rnn/task.h):
//  - the search (reference darts.md §7.6, §7.8, first or second order): per BPTT window an α
//    step (Adam) on the validation stream, then the weight step (SGD, lr scaled by seq_len/bptt,
//    TAR/AR, global clip); the genotype after every epoch; validation perplexity on
//    valid/eval_batch_size;
//  - the training of a derived cell (§7.7): normal-noise BPTT, SGD switching to averaged SGD by
//    the non-monotone rule, evaluation with the averaged weights, best checkpoint, NaN rollback to
//    the last checkpoint, test perplexity of the best checkpoint.
//
// Run folder: config.json, log.jsonl (step summaries and epoch records with losses,
// perplexities, softmax(α), genotype), checkpoint.safetensors (+ .json) after every epoch,
// best.safetensors (the best validation loss's weights), genotype.txt/.json, recurrent.dot/.svg
// and report.html (darts/tasks/report.h: perplexity curves, α over the epochs, the cell), all
// rewritten after every epoch.
// Resume continues exactly from the last checkpoint (the hidden states restart at every epoch, as
// in the reference, so an epoch boundary holds the whole state).
//
// Second order (unrolled): darts/rnn/architect.h.
//
// Deliberate differences: the reference's small_batch_size chunking is not offered (its default,
// the whole batch, is what runs here). A NaN rollback reloads the best checkpoint's weights,
// optimizer and epoch but keeps the dropout and sequence-length streams where they are (the
// reference's torch RNG is not in its checkpoint either): restoring them too would replay the
// very steps that diverged. After 10 rollbacks in one session the run stops (the reference
// would retry forever).
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/optimizer.h"
#include "darts/genotype/genotype.h"
#include "darts/rnn/architect.h"
#include "darts/tasks/config_table.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/text_corpus.h"

namespace autonet::darts {

// Every field is a command-line flag (--batch-size for batch_size) and a config.json key, through
// its line in table() (darts/tasks/config_table.h), which also says which fields only the search or
// only the training uses. Defaults: train_search.py (§7.6); rnn_train_defaults() below changes
// those train.py changes.
struct RnnRunConfig {
  // data
  std::string dataset = "kjv";   // kjv (embedded) | ptb | wt2
  std::string data_dir;          // ptb, wt2: required; kjv: optional cache of the prepared files
  int64_t train_tokens = 0;      // use only the first N train tokens (0: all)
  int64_t valid_tokens = 0;      // likewise valid and test
  // model
  int64_t emsize = 300;
  int64_t nhid = 300;
  double dropout = 0.75, dropouth = 0.25, dropoutx = 0.75, dropouti = 0.2, dropoute = 0.0;
  std::string genotype = "DARTS";  // training only: a published name, a file, or the text
  // weights
  int64_t epochs = 50;
  int64_t batch_size = 256;
  int64_t eval_batch_size = 10;
  int64_t test_batch_size = 1;
  int64_t bptt = 35;
  double learning_rate = 20;
  double weight_decay = 5e-7;
  double grad_clip = 0.25;
  double ar_alpha = 0;   // AR: α·mean(dropped output²)
  double tar_beta = 1e-3;  // TAR: β·mean((h_{t+1} − h_t)²)
  int64_t nonmono = 5;   // training: the ASGD switch's window
  // architecture (search)
  bool unrolled = false;
  double arch_learning_rate = 3e-3;
  double arch_weight_decay = 1e-3;
  // run
  int64_t seed = 3;
  std::string device = "auto";
  int64_t log_every = 50;       // a step summary every N steps (0: none)
  int64_t max_steps = 0;        // cap on the steps of an epoch (0: the whole train split)
  bool cuda_graph = true;       // on a GPU: replay the steps' passes from CUDA graphs
  bool side_stream = true;      // on a GPU: weight gradients on a second stream (side_stream.h)

  static const ConfigTable<RnnRunConfig>& table();
  void validate(bool search) const;
};
void to_json(nlohmann::json& j, const RnnRunConfig& c);
void from_json(const nlohmann::json& j, RnnRunConfig& c);

// The defaults of train.py (§7.7): nhid 850, batch 64, wd 8e-7, dropoute 0.1, seed 1267, 8000
// epochs as an upper bound.
RnnRunConfig rnn_train_defaults();

// One weight step (§7.6 step 6, §7.7): NLL + AR/TAR of `segment` from its hidden state, backward
// (α's gradient off when `alphas` is given), the global clip, the optimizer's step at its current
// lr — all queued, nothing read back. The caller reads nll and grad_norm with the step's one host
// sync and stops or rolls back on a non-finite one (that step has spoilt the weights in memory).
struct RnnWeightStep {
  Tensor nll;        // [1] on the device
  Tensor grad_norm;  // [1] float64 on the device, before clipping
  Tensor hidden;     // [B, nhid] the segment's last state, detached
};
RnnWeightStep rnn_weight_step(RnnModel& model, ParameterStore* alphas, Optimizer& optimizer,
                              const RnnSegment& segment, double ar_alpha, double tar_beta,
                              double grad_clip);
// Its two halves, apart for the graph-replayed step (darts/rnn/captured_step.h): the pass (zero
// the weights' gradients, forward, loss, backward; capturable), then the clip and the
// optimizer's step (eager, so the optimizer's state needs no re-capture).
struct RnnWeightPass {
  Tensor nll, hidden;
};
RnnWeightPass rnn_weight_pass(RnnModel& model, ParameterStore* alphas, const RnnSegment& segment,
                              double ar_alpha, double tar_beta);
RnnWeightStep finish_rnn_weight_step(RnnModel& model, Optimizer& optimizer,
                                     const RnnWeightPass& pass, double grad_clip);

// train.py's non-monotone trigger of the switch to averaged SGD (§7.7): more than `nonmono`
// validation losses of plain-SGD epochs are recorded in `history` and `current` is worse than the
// best of all but the last `nonmono` of them.
bool asgd_switch_due(const std::vector<double>& history, double current, int64_t nonmono);

struct RnnOutcome {
  std::filesystem::path run_dir;
  RnnGenotype genotype;          // search: from α after the last epoch; training: the cell
  int64_t epochs_done = 0;
  bool finished = false;
  double first_valid_ppl = 0;    // after the first epoch of this run folder
  double best_valid_ppl = 0;
  double test_ppl = 0;           // training: of the best checkpoint (0 until finished)
};

RnnOutcome run_rnn_search(const RnnRunConfig& config, const data::TextCorpus& corpus,
                          const std::filesystem::path& run_dir, const RunOptions& options = {});
RnnOutcome run_rnn_train(const RnnRunConfig& config, const data::TextCorpus& corpus,
                         const std::filesystem::path& run_dir, const RunOptions& options = {});
// Continues either kind of run exactly from its last checkpoint; `corpus` must be the corpus its
// config.json names (the vocabulary is checked).
RnnOutcome resume_rnn_run(const std::filesystem::path& run_dir, const data::TextCorpus& corpus,
                          const RunOptions& options = {});

}  // namespace autonet::darts
