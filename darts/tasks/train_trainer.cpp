// Training a genotype from scratch (reference darts.md §5) as a task of the run engine.
#include "darts/tasks/train_trainer.h"

#include <fmt/core.h>

#include <memory>
#include <optional>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/optimizer.h"
#include "darts/tasks/report.h"
#include "datasets/loader.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "run/image_epochs.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "runtime/side_stream.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Training a fixed genotype (§5) as a task of the run engine.
class TrainTask : public run::Task {
 public:
  TrainTask(const TrainRunConfig& config, const CnnGenotype& genotype, const data::ImageData& data,
            Device device)
      : config_(config),
        genotype_(genotype),
        device_(device),
        images_(run_images(config, data)),
        weights_(static_cast<uint64_t>(config.seed)),
        net_(augment_config(config, data), genotype, weights_),
        schedule_(lr_schedule(config)) {
    check_images_fit(images_.train, data.name, net_.config());
    set_side_streams(config.side_stream);
    weights_.to(device_);
    sgd_ = weight_sgd(weights_, config);
    train_loader_ = train_loader_config(config, data, device_);
    eval_loader_ = train_loader_;
    eval_loader_.shuffle = false;
    eval_loader_.transform = data::test_transform(data);
  }

  // What config.json records beyond the flags.
  json run_info(const data::ImageData& data) const {
    json info = image_run_info(kind(), device_, data, images_.train,
                               static_cast<int64_t>(images_.train_indices.size()),
                               steps_per_epoch(), net_.parameter_count());
    info["genotype"] = to_text(genotype_);
    info["network"] = net_.config().imagenet ? "imagenet" : "cifar";
    info[images_.eval_set + "_images"] = images_.eval_indices.size();
    info["auxiliary_parameters"] = net_.auxiliary_parameter_count();
    return info;
  }

  int64_t steps_per_epoch() const {
    return data::batches_per_epoch(static_cast<int64_t>(images_.train_indices.size()),
                                   config_.batch_size, false);
  }

  std::string kind() const override { return "train"; }
  int64_t epochs() const override { return config_.epochs; }

  std::vector<NamedTensor> state_tensors() const override {
    std::vector<NamedTensor> t = with_prefix("model.", run::named(weights_.named_tensors()));
    run::append(t, with_prefix("w_optimizer.", sgd_->state_tensors()));
    return t;
  }

  json state() const override {
    return {{"drop_path_offset", net_.drop_path_rng().offset()},
            {"w_optimizer", sgd_->state_json()},
            {"best", {{eval_key("acc"), best_.value}, {"epoch", best_.epoch}}},
            {"last_" + eval_key("acc"), last_acc_},
            {"last_" + eval_key("loss"), last_loss_},
            {"train_images", images_.train.size()}};
  }

  std::vector<Tensor> flat_weights() const override { return {weights_.weights()}; }

  void restore(const json& state, Restore) override {
    check_train_images(state, images_.train.size());
    net_.drop_path_rng().set_offset(state.at("drop_path_offset").get<uint64_t>());
    sgd_->load_state_json(state.at("w_optimizer"));
    best_.value = state.at("best").at(eval_key("acc")).get<double>();
    best_.epoch = state.at("best").at("epoch").get<int64_t>();
    last_acc_ = state.value("last_" + eval_key("acc"), 0.0);
    last_loss_ = state.value("last_" + eval_key("loss"), 0.0);
  }

  void start(run::Engine& engine) override {
    epochs_.emplace(engine, steps_per_epoch(), config_.log_every);
    if (engine.epoch() == 0) write_genotype_files(engine.folder(), genotype_);
  }

  run::EpochResult run_epoch(run::Engine& engine) override {
    const int64_t epoch = engine.epoch();
    const double lr = schedule_->lr_at(epoch);
    sgd_->set_lr(lr);
    // §5.2: p_e = p · e / epochs.
    const double drop_prob =
        config_.drop_path_prob * static_cast<double>(epoch) / static_cast<double>(config_.epochs);
    net_.set_drop_path_prob(drop_prob);
    // The test set (or the held-out images) after every epoch, as train.py (the last epoch's
    // number is the result).
    const ImageEpochFigures f = train_and_evaluate(
        *epochs_, net_, epoch, lr, {images_.train, images_.train_indices, train_loader_},
        [this](const data::Batch& b, const std::string& where) { return step(b, where); },
        {images_.eval, images_.eval_indices, eval_loader_}, images_.eval_set);
    last_acc_ = f.eval.accuracy;
    last_loss_ = f.eval.loss;
    // best.safetensors: the network of the best epoch, for `autonet eval --checkpoint best` (as
    // train_imagenet.py's model_best; chosen on the test set, it is for reference only).
    if (best_.update(f.eval.accuracy, epoch)) engine.save_best();
    run::EpochResult r =
        image_epoch_result(*epochs_, f, images_.eval_set, lr, steps_per_epoch(), best_);
    r.record["drop_path_prob"] = drop_prob;
    r.record[eval_key("top5")] = f.eval.top5;
    return r;
  }

  void after_checkpoint(run::Engine& engine) override { write_run_report(engine.folder()); }
  void finish(run::Engine& engine, bool finished) override {
    if (finished) write_run_report(engine.folder());
  }

  TrainOutcome outcome(const run::Engine& engine, bool finished) const {
    TrainOutcome out;
    out.run_dir = engine.folder().dir();
    out.epochs_done = engine.epoch();
    out.finished = finished;
    out.eval_set = images_.eval_set;
    if (out.eval_set == "valid") {
      out.valid_accuracy = last_acc_;
      out.valid_loss = last_loss_;
      out.best_valid_accuracy = best_.value;
    } else {
      out.test_accuracy = last_acc_;
      out.best_test_accuracy = best_.value;
    }
    return out;
  }

 private:
  // One step (§5): forward with the auxiliary head, SGD with the clipped gradient.
  run::StepFigures step(const data::Batch& b, const std::string& where) {
    weights_.zero_grad();
    const AugmentNetwork::Output out = net_.forward_all(Variable(b.images));
    const double eps = config_.label_smoothing;
    Variable loss = cross_entropy(out.logits, b.labels, eps);
    if (out.aux_logits.defined())
      loss = add(loss, scale(cross_entropy(out.aux_logits, b.labels, eps), config_.auxiliary_weight));
    backward(loss);
    Tensor grads = weights_.grads();
    const Tensor norm = clip_grad_norm_async(grads, config_.grad_clip);
    sgd_->step();
    // The step's one host sync, once all its work is queued; a non-finite value stops the run
    // before anything is checkpointed.
    const double loss_value = loss.value().item();
    run::check_finite(loss_value, "training loss", where);
    run::check_finite(norm.item(), "weights' gradient norm", where);
    return {loss_value, run::count_correct(out.logits.value(), b.labels)};
  }

  void write_run_report(const run::RunFolder& folder) const {
    write_report(folder, fmt::format("DARTS training — {}", folder.dir().filename().string()));
  }

  // A log key of the evaluated set: "test_acc", "valid_loss", ...
  std::string eval_key(const std::string& what) const { return images_.eval_set + "_" + what; }

  TrainRunConfig config_;
  CnnGenotype genotype_;
  Device device_;
  RunImages images_;
  ParameterStore weights_;
  AugmentNetwork net_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<Sgd> sgd_;
  data::LoaderConfig train_loader_, eval_loader_;
  std::optional<run::ImageEpochs> epochs_;  // set by start()

  run::Best best_{-1, -1, /*higher_is_better=*/true};
  double last_acc_ = 0, last_loss_ = 0;
};

}  // namespace

TrainOutcome run_training(const TrainRunConfig& config, const data::ImageData& data,
                          const fs::path& run_dir, const RunOptions& options) {
  config.validate();
  TrainTask task(config, load_cnn_genotype(config.genotype), data,
                 run::resolve_device(config.device));
  return start_image_run(task, config, data, run_dir, options);
}

TrainOutcome resume_training(const fs::path& run_dir, const data::ImageData& data,
                             const RunOptions& options) {
  auto [folder, config] = open_to_resume<TrainRunConfig>(run_dir, {"train"}, "train");
  const json info = folder.config().value("run", json::object());
  config.validate();
  // The genotype as resolved when the run started (its file may have changed since).
  const CnnGenotype genotype = info.contains("genotype")
                                   ? parse_cnn_genotype(info["genotype"].get<std::string>())
                                   : load_cnn_genotype(config.genotype);
  TrainTask task(config, genotype, data, run::resume_device(options, config.device));
  return resume_run(task, std::move(folder), options);
}

}  // namespace autonet::darts
