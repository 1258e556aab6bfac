// What the recurrent DARTS search and the training of a derived cell share as tasks of the run
// engine (run/engine.h): the batchified corpus, the model and its weight optimizer (SGD, or ASGD
// after train.py's switch), the BPTT epoch, perplexity evaluation, the best checkpoint by
// validation loss, the checkpoint state, and the genotype files and report.
// darts/rnn/search_task.cpp adds the α steps; darts/rnn/train_task.cpp the noisy sequence
// lengths, the rollback, averaged SGD and the test perplexity.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/optimizer.h"
#include "darts/rnn/captured_step.h"
#include "darts/rnn/model.h"
#include "darts/rnn/trainer.h"
#include "datasets/text_corpus.h"
#include "run/engine.h"
#include "runtime/philox.h"

namespace autonet::darts {

class RnnTask : public run::Task {
 public:
  // How the two methods name themselves: the checkpoint kind, the model line, the report title.
  struct Names {
    const char* kind;   // "rnn-search" | "rnn-train"
    const char* model;  // "search" | "derived"
    const char* title;  // of report.html
  };

  nlohmann::json run_info() const;  // what config.json records beyond the flags
  // For `autonet eval`: a checkpoint's tensors and state loaded into the task (its vocabulary
  // checked); returns the state.
  nlohmann::json load(const std::filesystem::path& checkpoint);
  // The mean NLL of `tokens` batchified in `batch` columns, in eval mode, as the run's validation
  // computes it: with ASGD's averaged weights once the run has switched to ASGD. `split` names
  // the tokens in errors.
  double evaluate_tokens(const Tensor& tokens, int64_t batch, const std::string& split);
  RnnOutcome outcome(const run::Engine& engine, bool finished) const;

  std::string kind() const override { return names_.kind; }
  int64_t epochs() const override { return config_.epochs; }
  std::vector<NamedTensor> state_tensors() const override;
  nlohmann::json state() const override;
  std::vector<Tensor> flat_weights() const override { return {weights_.weights()}; }
  void before_load(const std::filesystem::path& checkpoint) override;
  void restore(const nlohmann::json& state, Restore what) override;
  void start(run::Engine& engine) override;
  run::EpochResult run_epoch(run::Engine& engine) override;
  void after_checkpoint(run::Engine& engine) override;

 protected:
  RnnTask(const RnnRunConfig& config, const data::TextCorpus& corpus, Device device, Names names);
  // Called by the subclass's constructor once it has built the model on weights_.
  void set_model(std::unique_ptr<RnnModel> model);
  // Called last by the subclass's constructor: with --cuda-graph on a GPU, the steps are replayed
  // from CUDA graphs (a search's α store and architect, or none for a training run).
  void replay_steps(ParameterStore* alphas, RnnArchitect* architect);
  RnnConfig model_config() const;

  // The method's hooks.
  // The sequence length of a step from train.py's base length (bptt, or bptt/2 one time in 20)
  // and three more uniform numbers of `key`.
  virtual int64_t sequence_length(double base, const PhiloxKey& key) const = 0;
  // Before the weight step on `train`, which starts at `row` of the train matrix.
  virtual void before_weight_step(const RnnSegment& train, int64_t row, const std::string& where) {
    (void)train, (void)row, (void)where;
  }
  // The α store whose gradient the weight step leaves alone (search); none otherwise.
  virtual ParameterStore* alpha_store() { return nullptr; }
  // The weight step on `train` (rnn_weight_step, or replayed); its values stay on the device.
  virtual RnnWeightStep weight_step(const RnnSegment& train);
  // Throws when a weight step's loss or gradient norm (read after the whole step: its one host
  // sync) is not finite.
  virtual void check_weight_step(double nll, double grad_norm, const std::string& where);
  // The epoch's validation loss; keeps the best checkpoint (validate_and_keep_best).
  struct Validation {
    double loss = 0;
    bool averaged = false;  // with ASGD's averaged weights
    bool switched = false;  // switched to ASGD after it
  };
  virtual Validation validate(run::Engine& engine) = 0;

  // Mean NLL over `source` batchified with `batch` columns, in eval mode (reference evaluate()).
  double evaluate(const Tensor& source, int64_t batch);
  // The validation loss; best.safetensors when it is the best so far.
  double validate_and_keep_best(run::Engine& engine);
  void make_sgd();
  void make_asgd();  // train.py's switch: ASGD(lr, t0 = 0, lambd = 0, weight decay)

  RnnRunConfig config_;
  Names names_;
  Device device_;
  std::string corpus_name_;
  int64_t vocabulary_;
  uint64_t fingerprint_;
  ParameterStore weights_;
  std::unique_ptr<RnnModel> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<CapturedRnnStep> captured_;  // --cuda-graph on a GPU
  Tensor train_, valid_;  // batchified: [rows, batch_size], [rows, eval_batch_size]
  run::Best best_{1e300, -1, /*higher_is_better=*/false};  // validation loss
  std::vector<double> valid_history_;  // train.py's best_val_loss list (SGD epochs only)
  double first_valid_ppl_ = 0;
  double test_ppl_ = 0;  // training: of the best checkpoint, once finished

 private:
  int64_t draw_sequence_length();
  double train_epoch(run::Engine& engine);  // the token-weighted mean NLL
  PhiloxGenerator bptt_rng_;
};

// The task of a run of `kind` ("rnn-search" or "rnn-train"), built from a config it validates
// first.
std::unique_ptr<RnnTask> make_rnn_task(const std::string& kind, const RnnRunConfig& config,
                                       const data::TextCorpus& corpus, Device device);
// The two methods' tasks (darts/rnn/search_task.cpp, train_task.cpp), from a validated config.
std::unique_ptr<RnnTask> make_rnn_search_task(const RnnRunConfig& config,
                                              const data::TextCorpus& corpus, Device device);
std::unique_ptr<RnnTask> make_rnn_train_task(const RnnRunConfig& config,
                                             const data::TextCorpus& corpus, Device device);

// A batchified split, with a clear error when it is too short for the batch size.
Tensor batchify_checked(const Tensor& tokens, int64_t batch, int64_t min_rows, const char* split,
                        const char* flag);
// The first n tokens of a split (n ≤ 0: all of it).
Tensor first_tokens(const Tensor& split, int64_t n);

}  // namespace autonet::darts
