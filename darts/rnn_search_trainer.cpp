// Recurrent DARTS runs (darts/rnn_search_trainer.h): the config, the weight step both tasks
// share, the ASGD switch rule, and the entry points on the tasks of darts/rnn_task.h.
#include "darts/rnn_search_trainer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "autograd/functions.h"
#include "autograd/optimizer.h"
#include "darts/architect.h"
#include "darts/rnn_model.h"
#include "darts/rnn_task.h"
#include "darts/run_folder.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

#define AN_RNN_CONFIG_FIELDS(X)                                                                 \
  X(dataset) X(data_dir) X(train_tokens) X(valid_tokens) X(emsize) X(nhid) X(dropout)          \
  X(dropouth) X(dropoutx) X(dropouti) X(dropoute) X(genotype) X(epochs) X(batch_size)          \
  X(eval_batch_size) X(test_batch_size) X(bptt) X(learning_rate) X(weight_decay) X(grad_clip)  \
  X(ar_alpha) X(tar_beta) X(nonmono) X(unrolled) X(arch_learning_rate) X(arch_weight_decay)    \
  X(seed) X(device) X(log_every) X(max_steps)

AN_DEFINE_CONFIG_JSON(RnnRunConfig, AN_RNN_CONFIG_FIELDS)

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

RnnWeightStep rnn_weight_step(RnnModel& model, ParameterStore* alphas, Optimizer& optimizer,
                              const RnnSegment& segment, double ar_alpha, double tar_beta,
                              double grad_clip) {
  std::optional<ParameterGradScope> no_alpha_grads;
  if (alphas) no_alpha_grads.emplace(*alphas, false);
  ParameterStore& weights = model.weight_store();
  weights.zero_grad();
  const RnnForward f = model.run(segment.input, segment.hidden);
  const RnnLoss loss = rnn_loss(f, segment.target, ar_alpha, tar_beta);
  RnnWeightStep s;
  s.nll = loss.nll.value().item();
  s.hidden = f.hidden;
  if (!std::isfinite(s.nll)) return s;
  backward(loss.total);
  Tensor grads = weights.grads();
  s.grad_norm = clip_grad_norm(grads, grad_clip);
  if (std::isfinite(s.grad_norm)) optimizer.step();
  return s;
}

bool asgd_switch_due(const std::vector<double>& history, double current, int64_t nonmono) {
  AN_CHECK(nonmono >= 1) << "asgd_switch_due: nonmono must be at least 1, got " << nonmono;
  const auto n = static_cast<int64_t>(history.size());
  return n > nonmono && current > *std::min_element(history.begin(), history.end() - nonmono);
}

void RnnRunConfig::validate(bool search) const {
  AN_CHECK(emsize == nhid) << "--emsize (" << emsize << ") must equal --nhid (" << nhid
                           << "): the decoder's weight is tied to the embedding";
  AN_CHECK(nhid >= 1) << "--nhid must be positive, got " << nhid;
  for (const auto& [flag, p] : {std::pair<const char*, double>{"--dropout", dropout},
                                {"--dropouth", dropouth},
                                {"--dropoutx", dropoutx},
                                {"--dropouti", dropouti},
                                {"--dropoute", dropoute}})
    AN_CHECK(p >= 0 && p < 1) << flag << " must be in [0, 1), got " << p;
  AN_CHECK(epochs >= 1) << "--epochs must be at least 1, got " << epochs;
  AN_CHECK(batch_size >= 1 && eval_batch_size >= 1 && test_batch_size >= 1)
      << "--batch-size, --eval-batch-size and --test-batch-size must be at least 1, got "
      << batch_size << ", " << eval_batch_size << ", " << test_batch_size;
  AN_CHECK(bptt >= 2) << "--bptt must be at least 2, got " << bptt;
  AN_CHECK(learning_rate > 0) << "--learning-rate must be positive, got " << learning_rate;
  AN_CHECK(weight_decay >= 0) << "--weight-decay must be non-negative, got " << weight_decay;
  AN_CHECK(grad_clip > 0) << "--grad-clip must be positive, got " << grad_clip;
  AN_CHECK(ar_alpha >= 0 && tar_beta >= 0)
      << "--ar-alpha and --tar-beta must be non-negative, got " << ar_alpha << ", " << tar_beta;
  AN_CHECK(nonmono >= 1) << "--nonmono must be at least 1, got " << nonmono;
  AN_CHECK(search || !unrolled)
      << "unrolled (second-order α steps) belongs to a search; a derived cell has no α";
  AN_CHECK(arch_learning_rate > 0) << "--arch-learning-rate must be positive, got "
                                   << arch_learning_rate;
  AN_CHECK(arch_weight_decay >= 0) << "--arch-weight-decay must be non-negative, got "
                                   << arch_weight_decay;
  AN_CHECK(train_tokens >= 0 && valid_tokens >= 0)
      << "--train-tokens and --valid-tokens must be non-negative";
  AN_CHECK(seed >= 0) << "--seed must be non-negative, got " << seed;
  AN_CHECK(log_every >= 0 && max_steps >= 0) << "--log-every and --max-steps must be ≥ 0";
  if (device != "auto") parse_device(device);
}

namespace {

RnnOutcome run_to_end(RnnTask& task, run::Engine& engine) {
  const bool finished = engine.run();
  return task.outcome(engine, finished);
}

RnnOutcome start(std::unique_ptr<RnnTask> task, const RnnRunConfig& config, const fs::path& dir,
                 const RunOptions& options) {
  run::Engine engine(*task, run::create_run_folder(dir, config, task->run_info()), options);
  return run_to_end(*task, engine);
}

}  // namespace

RnnOutcome run_rnn_search(const RnnRunConfig& config, const data::TextCorpus& corpus,
                          const fs::path& run_dir, const RunOptions& options) {
  return start(make_rnn_search_task(config, corpus, run::resolve_device(config.device)), config,
               run_dir, options);
}

RnnOutcome run_rnn_train(const RnnRunConfig& config, const data::TextCorpus& corpus,
                         const fs::path& run_dir, const RunOptions& options) {
  return start(make_rnn_train_task(config, corpus, run::resolve_device(config.device)), config,
               run_dir, options);
}

RnnOutcome resume_rnn_run(const fs::path& run_dir, const data::TextCorpus& corpus,
                          const RunOptions& options) {
  RunFolder folder = RunFolder::open(run_dir);
  folder.expect_kind({"rnn-search", "rnn-train"});
  const RnnRunConfig config = config_from_json<RnnRunConfig>(run::stored_flags(folder), "rnn");
  const Device device = run::resume_device(options, config.device);
  std::unique_ptr<RnnTask> task = folder.kind() == "rnn-search"
                                      ? make_rnn_search_task(config, corpus, device)
                                      : make_rnn_train_task(config, corpus, device);
  run::Engine engine(*task, folder, options);
  engine.resume();
  return run_to_end(*task, engine);
}

}  // namespace autonet::darts
