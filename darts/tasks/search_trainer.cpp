// The DARTS search (reference darts.md §3.3, §3.6) as a task of the run engine.
#include "darts/tasks/search_trainer.h"

#include <fmt/core.h>

#include <memory>
#include <optional>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/lr_schedule.h"
#include "autograd/optimizer.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/cell_layout.h"
#include "darts/cnn/pc_search_model.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/captured_step.h"
#include "darts/tasks/report.h"
#include "datasets/batch_stream.h"
#include "datasets/loader.h"
#include "datasets/splits.h"
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

// What an epoch record logs of the architecture: the genotype, softmax(α) of both cells and, with
// edge normalisation, softmax(β) over each node's edges (in edge order).
json architecture_record(const SearchNetwork& net) {
  json r = {{"genotype", to_text(net.genotype())},
            {"alpha_normal", run::rounded(net.normal_weights())},
            {"alpha_reduce", run::rounded(net.reduce_weights())}};
  if (net.config().edge_normalization) {
    const int nodes = net.config().nodes;
    r["beta_normal"] = run::rounded({host_edge_normalization(net.beta_normal(), nodes)}).at(0);
    r["beta_reduce"] = run::rounded({host_edge_normalization(net.beta_reduce(), nodes)}).at(0);
  }
  return r;
}

// The search (§3) as a task of the run engine; built identically for a new and a resumed run.
class SearchTask : public run::Task {
 public:
  SearchTask(const SearchRunConfig& config, const data::ImageData& data, Device device)
      : config_(config),
        device_(device),
        train_set_(first_images(data.train, config.subset, "--subset")),
        weights_(static_cast<uint64_t>(config.seed)),
        alphas_(static_cast<uint64_t>(config.seed) + 1),
        net_(search_network_config(config, data), weights_, alphas_),
        schedule_(config.learning_rate, config.epochs, config.learning_rate_min) {
    check_image_size(train_set_, data.name, net_.config().imagenet_stem);
    data::SplitConfig split;
    split.train_portion = config.train_portion;
    split.valid_portion = 0;
    split.seed = static_cast<uint64_t>(config.seed);
    splits_ = data::make_splits(train_set_.size(), 0, split);

    weights_.to(device_);
    alphas_.to(device_);
    sgd_ = weight_sgd(weights_, config);
    architect_ = std::make_unique<Architect>(net_, *sgd_, architect_config(config));
    set_side_streams(config.side_stream);  // before a capture records the streams
    if (config.cuda_graph && device_.is_cuda())
      captured_step_ =
          std::make_unique<CapturedSearchStep>(net_, *architect_, *sgd_, config.grad_clip);

    // Both halves use the training transform (§3.1); the α stream gets its own order.
    train_loader_ = train_loader_config(config, data, device_);
    data::LoaderConfig valid_loader = train_loader_;
    valid_loader.seed = static_cast<uint64_t>(config.seed) + 1;
    valid_stream_.emplace(train_set_, splits_.search_arch, valid_loader);
    eval_loader_ = train_loader_;
    eval_loader_.shuffle = false;
  }

  // What config.json records beyond the flags.
  json run_info(const data::ImageData& data) const {
    json info = image_run_info(kind(), device_, data, train_set_, train_set_.size(),
                               steps_per_epoch(), net_.parameter_count());
    info["weight_images"] = splits_.search_weights.size();
    info["arch_images"] = splits_.search_arch.size();
    info["stem"] = net_.config().imagenet_stem ? "imagenet" : "cifar";
    return info;
  }

  int64_t steps_per_epoch() const {
    return data::batches_per_epoch(static_cast<int64_t>(splits_.search_weights.size()),
                                   config_.batch_size, false);
  }

  std::string kind() const override { return "search"; }
  int64_t epochs() const override { return config_.epochs; }

  std::vector<NamedTensor> state_tensors() const override {
    std::vector<NamedTensor> t = with_prefix("model.", run::named(weights_.named_tensors()));
    run::append(t, with_prefix("arch.", run::named(alphas_.named_tensors())));
    run::append(t, with_prefix("w_optimizer.", sgd_->state_tensors()));
    run::append(t, with_prefix("a_optimizer.", architect_->optimizer().state_tensors()));
    return t;
  }

  json state() const override {
    return {{"valid_stream", {{"pass", valid_stream_->pass()}, {"batch", valid_stream_->batch()}}},
            {"w_optimizer", sgd_->state_json()},
            {"a_optimizer", architect_->optimizer().state_json()},
            {"best", {{"valid_acc", best_.value}, {"epoch", best_.epoch}}},
            {"genotype_last_epoch_start", genotype_last_start_},
            {"train_images", train_set_.size()}};
  }

  std::vector<Tensor> flat_weights() const override {
    return {weights_.weights(), alphas_.weights()};
  }

  void restore(const json& state, Restore) override {
    check_train_images(state, train_set_.size());
    valid_stream_->seek(state.at("valid_stream").at("pass").get<int64_t>(),
                        state.at("valid_stream").at("batch").get<int64_t>());
    sgd_->load_state_json(state.at("w_optimizer"));
    architect_->optimizer().load_state_json(state.at("a_optimizer"));
    best_.value = state.at("best").at("valid_acc").get<double>();
    best_.epoch = state.at("best").at("epoch").get<int64_t>();
    genotype_last_start_ = state.value("genotype_last_epoch_start", "");
  }

  void start(run::Engine& engine) override {
    epochs_.emplace(engine, steps_per_epoch(), config_.log_every);
  }

  run::EpochResult run_epoch(run::Engine& engine) override {
    const int64_t epoch = engine.epoch();
    const double lr = schedule_.lr_at(epoch);
    sgd_->set_lr(lr);
    arch_frozen_ = epoch < config_.arch_frozen_epochs;
    // The official script logs the genotype of the current α at the start of each epoch (§3.6).
    genotype_last_start_ = to_text(net_.genotype());
    // Then evaluates the α half in eval mode (running BN statistics), as infer() (§3.3).
    const ImageEpochFigures f = train_and_evaluate(
        *epochs_, net_, epoch, lr, {train_set_, splits_.search_weights, train_loader_},
        [this](const data::Batch& b, const std::string& where) { return step(b, where); },
        {train_set_, splits_.search_arch, eval_loader_}, "validation");
    best_.update(f.eval.accuracy, epoch);
    run::EpochResult r = image_epoch_result(*epochs_, f, "valid", lr, steps_per_epoch(), best_);
    r.record["genotype_at_start"] = genotype_last_start_;
    r.record.update(architecture_record(net_));
    return r;
  }

  void after_checkpoint(run::Engine& engine) override { write_files(engine.folder()); }

  void finish(run::Engine& engine, bool finished) override {
    if (!finished) return;
    engine.folder().write_file("genotype_last_epoch_start.txt",
                               to_text(genotype_last_epoch_start()) + "\n");
    write_files(engine.folder());
  }

  SearchOutcome outcome(const run::Engine& engine, bool finished) const {
    SearchOutcome out;
    out.run_dir = engine.folder().dir();
    out.genotype = net_.genotype();
    out.genotype_last_epoch_start = genotype_last_epoch_start();
    out.epochs_done = engine.epoch();
    out.finished = finished;
    out.valid_accuracy = best_.value;
    return out;
  }

 private:
  // One search step (§3.3) with the α step on the next batch of the α stream.
  run::StepFigures step(const data::Batch& b, const std::string& where) {
    if (arch_frozen_) {
      const SearchStepResult r =
          captured_step_
              ? captured_step_->frozen_step(b.images, b.labels, where)
              : frozen_arch_step(net_, *sgd_, b.images, b.labels, config_.grad_clip, where);
      return {r.loss, r.correct};
    }
    const data::Batch v = valid_stream_->next();
    const SearchStepResult r =
        captured_step_
            ? captured_step_->step(b.images, b.labels, v.images, v.labels, where)
            : search_step(net_, *architect_, *sgd_, b.images, b.labels, v.images, v.labels,
                          config_.grad_clip, where);
    return {r.loss, r.correct};
  }

  CnnGenotype genotype_last_epoch_start() const {
    return genotype_last_start_.empty() ? net_.genotype() : parse_cnn_genotype(genotype_last_start_);
  }

  // Genotype files, cell drawings and report.html, rewritten after every epoch.
  void write_files(const run::RunFolder& folder) const {
    write_genotype_files(folder, net_.genotype());
    const char* method = config_.method == "pc-darts" ? "PC-DARTS" : "DARTS";
    write_report(folder, fmt::format("{} search — {}", method, folder.dir().filename().string()));
  }

  SearchRunConfig config_;
  Device device_;
  bool arch_frozen_ = false;  // this epoch trains the weights only (--arch-frozen-epochs)
  data::ImageSet train_set_;
  data::Splits splits_;
  ParameterStore weights_, alphas_;
  SearchNetwork net_;
  CosineAnnealingLr schedule_;
  std::unique_ptr<Sgd> sgd_;
  std::unique_ptr<Architect> architect_;
  std::unique_ptr<CapturedSearchStep> captured_step_;  // --cuda-graph on a GPU
  data::LoaderConfig train_loader_, eval_loader_;
  // The α batches: reshuffled passes over the α half, resumable at (pass, batch).
  std::optional<data::BatchStream> valid_stream_;
  std::optional<run::ImageEpochs> epochs_;  // set by start()

  run::Best best_{-1, -1, /*higher_is_better=*/true};
  std::string genotype_last_start_;
};

}  // namespace

SearchOutcome run_search(const SearchRunConfig& config, const data::ImageData& data,
                         const fs::path& run_dir, const RunOptions& options) {
  config.validate();
  // Build (and so check) everything before the folder is created.
  SearchTask task(config, data, run::resolve_device(config.device));
  return start_image_run(task, config, data, run_dir, options);
}

SearchOutcome resume_search(const fs::path& run_dir, const data::ImageData& data,
                            const RunOptions& options) {
  auto [folder, config] = open_to_resume<SearchRunConfig>(run_dir, {"search"}, "search");
  config.validate();
  SearchTask task(config, data, run::resume_device(options, config.device));
  return resume_run(task, std::move(folder), options);
}

}  // namespace autonet::darts
