// Training a derived recurrent cell (reference darts.md §7.7) as a task of the run engine:
// normal-noise BPTT lengths, SGD switching to averaged SGD by train.py's non-monotone rule,
// validation with the averaged weights after the switch, the rollback to the best checkpoint
// after a non-finite loss, and the test perplexity of the best checkpoint at the end.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "darts/rnn/task.h"

namespace autonet::darts {

namespace {

class RnnTrainTask final : public RnnTask {
 public:
  RnnTrainTask(const RnnRunConfig& config, const data::TextCorpus& corpus, Device device)
      : RnnTask(config, corpus, device, {"rnn-train", "derived", "Recurrent cell training"}) {
    test_ = batchify_checked(first_tokens(corpus.test, config.valid_tokens),
                             config.test_batch_size, 2, "test", "--test-batch-size");
    set_model(std::make_unique<RnnModel>(model_config(), weights_,
                                         load_rnn_genotype(config.genotype)));
    replay_steps(nullptr, nullptr);
  }

  // train.py's final evaluation: the test perplexity (test/test_batch_size) of the best
  // checkpoint.
  void finish(run::Engine& engine, bool finished) override {
    if (!finished) return;
    engine.load_best();
    const double test_loss = evaluate(test_, config_.test_batch_size);
    test_ppl_ = std::exp(test_loss);
    engine.folder().append_log({{"kind", "test"},
                                {"best_epoch", best_.epoch},
                                {"test_loss", test_loss},
                                {"test_ppl", test_ppl_}});
    after_checkpoint(engine);
  }

 protected:
  // train.py: seq_len ~ N(base, 5), at least 5 and at most bptt + 20.
  int64_t sequence_length(double base, const PhiloxKey& key) const override {
    const double u1 = philox_uniform(key, 1), u2 = philox_uniform(key, 2);
    const double normal = std::sqrt(-2 * std::log(1.0 - u1)) * std::cos(2 * M_PI * u2);
    const int64_t len = std::max<int64_t>(5, static_cast<int64_t>(base + 5 * normal));
    return std::min<int64_t>(len, config_.bptt + 20);
  }

  // A non-finite loss rolls back to the best checkpoint (train.py) instead of stopping.
  void check_weight_step(double nll, double grad_norm, const std::string& where) override {
    if (!std::isfinite(nll))
      throw run::Diverged{fmt::format("the training loss became {} {}", nll, where)};
    if (!std::isfinite(grad_norm))
      throw run::Diverged{fmt::format("the weights' gradient norm became {} {}", grad_norm, where)};
  }

  Validation validate(run::Engine& engine) override {
    Validation v;
    if (auto* asgd = dynamic_cast<Asgd*>(optimizer_.get())) {
      AveragedWeights swap(*asgd);  // best.safetensors gets the averaged weights, as train.py's
      v.loss = validate_and_keep_best(engine);
      v.averaged = true;
      return v;
    }
    v.loss = validate_and_keep_best(engine);
    if (asgd_switch_due(valid_history_, v.loss, config_.nonmono)) {
      make_asgd();
      v.switched = true;
    }
    valid_history_.push_back(v.loss);
    return v;
  }

 private:
  Tensor test_;  // [rows, test_batch_size]
};

}  // namespace

std::unique_ptr<RnnTask> make_rnn_train_task(const RnnRunConfig& config,
                                             const data::TextCorpus& corpus, Device device) {
  return std::make_unique<RnnTrainTask>(config, corpus, device);
}

}  // namespace autonet::darts
