// Recurrent DARTS runs (darts/rnn/trainer.h): the config, the weight step both tasks
// share, the ASGD switch rule, and the entry points on the tasks of darts/rnn/task.h.
#include "darts/rnn/trainer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "autograd/functions.h"
#include "autograd/optimizer.h"
#include "darts/cnn/architect.h"
#include "darts/rnn/model.h"
#include "darts/rnn/task.h"
#include "datasets/registry.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

const ConfigTable<RnnRunConfig>& RnnRunConfig::table() {
  using C = RnnRunConfig;
  using F = ConfigField<C>;
  static const ConfigTable<C> table({
      {"Data",
       {F{"dataset", &C::dataset, "kjv (embedded), ptb or wt2 (WikiText-2)"},
        F{"data_dir", &C::data_dir,
          "PTB folder (train/valid/test.txt), WikiText-2 folder (wiki.train.tokens, ...); kjv: "
          "cache folder of the prepared files"},
        F{"train_tokens", &C::train_tokens, "use the first N train tokens (0: all)",
          non_negative()},
        F{"valid_tokens", &C::valid_tokens, "use the first N valid and test tokens (0: all)",
          non_negative()}}},
      {"Model",
       {F{"emsize", &C::emsize, "embedding size (= --nhid: the decoder is tied to the embedding)",
          positive()},
        F{"nhid", &C::nhid, "hidden units of the recurrent cell", positive()},
        F{"dropout", &C::dropout, "locked dropout on the cell's outputs", half_open(0, 1)},
        F{"dropouth", &C::dropouth, "dropout on the hidden states fed to the cell's nodes",
          half_open(0, 1)},
        F{"dropoutx", &C::dropoutx, "dropout on the cell's input", half_open(0, 1)},
        F{"dropouti", &C::dropouti, "locked dropout on the embeddings", half_open(0, 1)},
        F{"dropoute", &C::dropoute, "dropout of whole words from the embedding",
          half_open(0, 1)},
        F{"genotype", &C::genotype,
          "published name (DARTS, DARTS_V1, DARTS_V2, ENAS), a .txt/.json file, or the text"}
            .only(Scope::train)}},
      {"Weights",
       {F{"epochs", &C::epochs, "epochs", at_least(1)},
        F{"batch_size", &C::batch_size, "training batch size", at_least(1)},
        F{"eval_batch_size", &C::eval_batch_size, "batch size of the validation", at_least(1)},
        F{"test_batch_size", &C::test_batch_size, "batch size of the test (training only)",
          at_least(1)},
        F{"bptt", &C::bptt, "mean sequence length of truncated backpropagation", at_least(2)},
        F{"learning_rate", &C::learning_rate, "SGD learning rate (scaled by seq_len / bptt)",
          positive()},
        F{"weight_decay", &C::weight_decay, "SGD weight decay (L2)", non_negative()},
        F{"grad_clip", &C::grad_clip, "clip the gradient norm to this", positive()},
        F{"ar_alpha", &C::ar_alpha, "activation regularisation: α · mean(dropped output²)",
          non_negative()},
        F{"tar_beta", &C::tar_beta,
          "temporal activation regularisation: β · mean((h_{t+1} − h_t)²)", non_negative()},
        F{"nonmono", &C::nonmono, "the averaged-SGD switch's window (epochs)", at_least(1)}
            .only(Scope::train)}},
      {"Architecture",
       {F{"unrolled", &C::unrolled, "second-order α steps (reference §7.8)"}
            .only(Scope::search)
            .off_flag("--first-order"),
        F{"arch_learning_rate", &C::arch_learning_rate, "Adam learning rate of α", positive()}
            .only(Scope::search),
        F{"arch_weight_decay", &C::arch_weight_decay, "Adam weight decay (L2) of α",
          non_negative()}
            .only(Scope::search)}},
      {"Run",
       {F{"seed", &C::seed, "seed of weights, α, dropout masks and sequence lengths",
          non_negative()}
            .fixed(),
        F{"device", &C::device, "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N"},
        F{"log_every", &C::log_every, "a step summary in log.jsonl every N steps (0: none)",
          non_negative()}
            .fixed(),
        F{"max_steps", &C::max_steps, "cap on the steps of an epoch (0: all)", non_negative()}
            .fixed()}},
      {"GPU",
       {F{"cuda_graph", &C::cuda_graph,
          "on a GPU, replay each step's passes from CUDA graphs, captured per sequence length on "
          "its second step (same values bit for bit); --no-cuda-graph for eager steps; ignored "
          "on CPU"}
            .fixed(),
        F{"side_stream", &C::side_stream,
          "on a GPU, run backward's weight gradients on a second stream beside the rest of "
          "backward (same values bit for bit); --no-side-stream for one stream; ignored on CPU"}
            .fixed()}},
  },
  // rnn-train's WikiText-2 sizes (the reference README's WT2 command, paper appendix A.2);
  // everything else as PTB. rnn-search has none: the paper searches on PTB only.
  {{"--dataset wt2",
    [](const C& c) { return data::canonical_dataset_name(c.dataset) == "wt2"; },
    {{"emsize", 700}, {"nhid", 700}, {"dropouth", 0.15}, {"weight_decay", 5e-7}},
    Scope::train}});
  return table;
}

void to_json(json& j, const RnnRunConfig& c) { j = config_to_json(c); }
void from_json(const json& j, RnnRunConfig& c) { c = config_from_json(j, "rnn", c); }

RnnRunConfig rnn_train_defaults() {
  RnnRunConfig c;
  c.emsize = c.nhid = 850;
  c.batch_size = 64;
  c.weight_decay = 8e-7;
  c.dropoute = 0.1;
  c.seed = 1267;
  c.epochs = 8000;
  return c;
}

RnnWeightPass rnn_weight_pass(RnnModel& model, ParameterStore* alphas, const RnnSegment& segment,
                              double ar_alpha, double tar_beta) {
  std::optional<ParameterGradScope> no_alpha_grads;
  if (alphas) no_alpha_grads.emplace(*alphas, false);
  model.weight_store().zero_grad();
  const RnnForward f = model.run(segment.input, segment.hidden);
  const RnnLoss loss = rnn_loss(f, segment.target, ar_alpha, tar_beta);
  backward(loss.total);
  return {loss.nll.value(), f.hidden};
}

RnnWeightStep finish_rnn_weight_step(RnnModel& model, Optimizer& optimizer,
                                     const RnnWeightPass& pass, double grad_clip) {
  Tensor grads = model.weight_store().grads();
  const RnnWeightStep s{pass.nll, clip_grad_norm_async(grads, grad_clip), pass.hidden};
  optimizer.step();
  return s;
}

RnnWeightStep rnn_weight_step(RnnModel& model, ParameterStore* alphas, Optimizer& optimizer,
                              const RnnSegment& segment, double ar_alpha, double tar_beta,
                              double grad_clip) {
  const RnnWeightPass pass = rnn_weight_pass(model, alphas, segment, ar_alpha, tar_beta);
  return finish_rnn_weight_step(model, optimizer, pass, grad_clip);
}

bool asgd_switch_due(const std::vector<double>& history, double current, int64_t nonmono) {
  AN_CHECK(nonmono >= 1) << "asgd_switch_due: nonmono must be at least 1, got " << nonmono;
  const auto n = static_cast<int64_t>(history.size());
  return n > nonmono && current > *std::min_element(history.begin(), history.end() - nonmono);
}

void RnnRunConfig::validate(bool search) const {
  check_fields(*this);
  AN_CHECK(emsize == nhid) << "--emsize (" << emsize << ") must equal --nhid (" << nhid
                           << "): the decoder's weight is tied to the embedding";
  AN_CHECK(search || !unrolled)
      << "unrolled (second-order α steps) belongs to a search; a derived cell has no α";
  if (device != "auto") parse_device(device);
}

namespace {

RnnOutcome start(std::unique_ptr<RnnTask> task, const RnnRunConfig& config, const fs::path& dir,
                 const RunOptions& options) {
  return start_run(*task, config, task->run_info(), dir, options);
}

}  // namespace

RnnOutcome run_rnn_search(const RnnRunConfig& config, const data::TextCorpus& corpus,
                          const fs::path& run_dir, const RunOptions& options) {
  return start(make_rnn_task("rnn-search", config, corpus, run::resolve_device(config.device)),
               config, run_dir, options);
}

RnnOutcome run_rnn_train(const RnnRunConfig& config, const data::TextCorpus& corpus,
                         const fs::path& run_dir, const RunOptions& options) {
  return start(make_rnn_task("rnn-train", config, corpus, run::resolve_device(config.device)),
               config, run_dir, options);
}

RnnOutcome resume_rnn_run(const fs::path& run_dir, const data::TextCorpus& corpus,
                          const RunOptions& options) {
  auto [folder, config] =
      open_to_resume<RnnRunConfig>(run_dir, {"rnn-search", "rnn-train"}, "rnn");
  const Device device = run::resume_device(options, config.device);
  std::unique_ptr<RnnTask> task = make_rnn_task(folder.kind(), config, corpus, device);
  return resume_run(*task, std::move(folder), options);
}

}  // namespace autonet::darts
