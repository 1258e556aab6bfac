// The recurrent DARTS search (reference darts.md §7.6, §7.8) as a task of the run engine: per
// BPTT window an α step (Adam; first or second order, darts/rnn/architect.h) on the validation
// window tied to the train position, then the weight step with α's gradient off. The genotype
// and softmax(α) are logged after every epoch.
#include <fmt/core.h>

#include "autograd/checkpoint.h"
#include "darts/rnn/architect.h"
#include "darts/rnn/task.h"
#include "run/common.h"

namespace autonet::darts {

namespace {

// The search cell's batch norm normalises every state over the batch, in training with the
// batch's own statistics. If all columns of a batchified split hold the same tokens (a text that
// repeats with a period dividing its rows, e.g. one line over and over), every batch has zero
// variance: each state normalises to exactly 0, nothing is learned, and the running variance
// decays towards 0, so evaluation scales each of the cell's nine normalisations by up to
// 1/sqrt(eps) and the states overflow to inf and NaN within a step or two. Refused up front.
void check_columns_differ(const Tensor& batched, const char* split, const char* flag) {
  const int64_t rows = batched.size(0), columns = batched.size(1);
  const Tensor host = batched.to(Device::cpu()).contiguous();
  const int64_t* t = host.data<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 1; c < columns; ++c)
      if (t[r * columns + c] != t[r * columns]) return;
  AN_THROW() << "the " << split << " split cut into " << columns << " columns of " << rows
             << " tokens (" << flag << " " << columns << ") gives every column the same tokens: "
             << "the search cell's batch norm would see zero variance in every batch (states all 0, "
             << "then NaN in evaluation); choose another " << flag << " or a text that does not "
             << "repeat with a period dividing " << rows;
}

class RnnSearchTask final : public RnnTask {
 public:
  RnnSearchTask(const RnnRunConfig& config, const data::TextCorpus& corpus, Device device)
      : RnnTask(config, corpus, device, {"rnn-search", "search", "Recurrent DARTS search"}),
        alphas_(static_cast<uint64_t>(config.seed) + 1) {
    // The α steps read the validation split batchified like the train split.
    search_data_ = batchify_checked(first_tokens(corpus.valid, config.valid_tokens),
                                    config.batch_size, 2, "valid", "--batch-size");
    check_columns_differ(train_, "train", "--batch-size");
    check_columns_differ(search_data_, "valid", "--batch-size");
    set_model(std::make_unique<RnnModel>(model_config(), weights_, alphas_));
    alphas_.to(device_);
    RnnArchitectConfig arch;
    arch.unrolled = config.unrolled;
    arch.learning_rate = config.arch_learning_rate;
    arch.weight_decay = config.arch_weight_decay;
    arch.grad_clip = config.grad_clip;
    architect_ = std::make_unique<RnnArchitect>(*model_, alphas_, arch);
    replay_steps(&alphas_, architect_.get());
  }

  std::vector<NamedTensor> state_tensors() const override {
    std::vector<NamedTensor> t = RnnTask::state_tensors();
    run::append(t, with_prefix("arch.", run::named(alphas_.named_tensors())));
    run::append(t, with_prefix("a_optimizer.", architect_->optimizer().state_tensors()));
    return t;
  }

  nlohmann::json state() const override {
    nlohmann::json s = RnnTask::state();
    s["a_optimizer"] = architect_->optimizer().state_json();
    return s;
  }

  std::vector<Tensor> flat_weights() const override {
    return {weights_.weights(), alphas_.weights()};
  }

  void restore(const nlohmann::json& state, Restore what) override {
    RnnTask::restore(state, what);
    architect_->optimizer().load_state_json(state.at("a_optimizer"));
  }

  run::EpochResult run_epoch(run::Engine& engine) override {
    const std::string genotype_at_start = to_text(model_->genotype());
    hidden_valid_ = model_->initial_hidden(config_.batch_size);  // the α stream restarts too
    arch_loss_sum_ = 0;
    arch_steps_ = 0;
    run::EpochResult r = RnnTask::run_epoch(engine);
    r.record["genotype_at_start"] = genotype_at_start;
    // The α steps' mean validation NLL: what α descends (tests tell the two streams apart by it).
    r.record["arch_loss"] = arch_steps_ ? arch_loss_sum_ / static_cast<double>(arch_steps_) : 0.0;
    r.record["alpha"] = run::rounded(model_->alpha_weights());
    return r;
  }

 protected:
  // The search's lengths: int(bptt), or int(bptt / 2) one time in 20.
  int64_t sequence_length(double base, const PhiloxKey&) const override {
    return static_cast<int64_t>(base);
  }

  // The α step (§7.8) on the validation window tied to this train position, from the α
  // stream's hidden state; the second order also reads the train segment and state.
  void before_weight_step(const RnnSegment& train, int64_t row, const std::string&) override {
    const int64_t search_rows = search_data_.size(0);
    const data::TextBatch v = data::get_batch(search_data_, row % (search_rows - 1), config_.bptt);
    valid_window_ = {v.input.contiguous().to(device_), v.target.contiguous().to(device_),
                     hidden_valid_};
    if (captured_) return;  // the replayed step runs the α step with the weight step
    arch_step_ = architect_->step(dynamic_cast<const Sgd&>(*optimizer_), train, valid_window_);
    hidden_valid_ = arch_step_.hidden_valid;
  }

  RnnWeightStep weight_step(const RnnSegment& train) override {
    if (!captured_) return RnnTask::weight_step(train);
    const CapturedRnnStep::Result r = captured_->step(*optimizer_, train, &valid_window_);
    arch_step_ = r.arch;
    hidden_valid_ = r.arch.hidden_valid;
    return r.weight;
  }

  // The α step's values, read with the weight step's (the step's one host sync), first.
  void check_weight_step(double nll, double grad_norm, const std::string& where) override {
    const double valid_loss = arch_step_.valid_loss.item();
    run::check_finite(valid_loss, "validation loss of the α step", where);
    if (arch_step_.direction_norm.defined())
      run::check_finite(arch_step_.direction_norm.item(),
                        "norm of the validation gradient at w′ (the Hessian term's direction)",
                        where);
    arch_loss_sum_ += valid_loss;
    ++arch_steps_;
    RnnTask::check_weight_step(nll, grad_norm, where);
  }

  ParameterStore* alpha_store() override { return &alphas_; }

  Validation validate(run::Engine& engine) override {
    Validation v;
    v.loss = validate_and_keep_best(engine);
    valid_history_.push_back(v.loss);
    return v;
  }

 private:
  ParameterStore alphas_;
  std::unique_ptr<RnnArchitect> architect_;
  Tensor search_data_;   // the validation split, [rows, batch_size]
  Tensor hidden_valid_;  // the α stream's state within an epoch
  RnnArchStep arch_step_;  // this step's α step, checked after its weight step
  RnnSegment valid_window_;  // this step's validation window
  double arch_loss_sum_ = 0;  // the epoch's α-step validation losses
  int64_t arch_steps_ = 0;
};

}  // namespace

std::unique_ptr<RnnTask> make_rnn_search_task(const RnnRunConfig& config,
                                              const data::TextCorpus& corpus, Device device) {
  return std::make_unique<RnnSearchTask>(config, corpus, device);
}

}  // namespace autonet::darts
