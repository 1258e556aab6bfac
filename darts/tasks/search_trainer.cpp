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
#include "datasets/loader.h"
#include "datasets/splits.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "run/image_epochs.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

const ConfigTable<SearchRunConfig>& SearchRunConfig::table() {
  using C = SearchRunConfig;
  using F = ConfigField<C>;
  static const ConfigTable<C> table({
      {"Data", image_data_fields<C>()},
      {"Data",
       {F{"train_portion", &C::train_portion,
          "share of the training images that train the weights; the rest train α", open(0, 1)}}},
      {"Network",
       {F{"method", &C::method,
          "darts, or pc-darts (partial channels and edge normalisation, Xu et al. 2020)"},
        F{"partial_channels", &C::partial_channels,
          "pc-darts: 1/K of each edge's channels go through its candidate ops", at_least(1)},
        F{"channels", &C::channels, "C: channels of the first cells", positive()},
        F{"layers", &C::layers, "L: cells",
          at_least(3, "reduction cells sit at ⌊L/3⌋ and ⌊2L/3⌋ and must be distinct")},
        F{"nodes", &C::nodes, "intermediate nodes per cell", at_least(1)},
        F{"multiplier", &C::multiplier, "last nodes concatenated into a cell's output (≤ nodes)",
          at_least(1)},
        F{"stem_multiplier", &C::stem_multiplier, "the stem outputs stem_multiplier · C channels",
          at_least(1)},
        F{"stem", &C::stem,
          "cifar (one 3×3 conv, cells at the input's size), imagenet (the official ImageNet "
          "search's three stride-2 convs, cells at 1/8 of it: for 224×224 image folders), or "
          "auto: imagenet for images of 128 pixels and more"}}},
      {"Weights", sgd_fields<C>("batch size of the weight and of the α batches")},
      {"Architecture",
       {F{"unrolled", &C::unrolled, "second-order (unrolled) DARTS; --first-order for ξ = 0"}
            .off_flag("--first-order"),
        F{"arch_learning_rate", &C::arch_learning_rate, "Adam learning rate of α", positive()},
        F{"arch_beta1", &C::arch_beta1, "Adam β1 of α", half_open(0, 1)},
        F{"arch_beta2", &C::arch_beta2, "Adam β2 of α", half_open(0, 1)},
        F{"arch_weight_decay", &C::arch_weight_decay, "Adam weight decay (L2) of α",
          non_negative()},
        F{"arch_frozen_epochs", &C::arch_frozen_epochs,
          "train the weights only in the first N epochs (< --epochs)", non_negative()}}},
      {"Run", image_run_fields<C>("seed of weights, α, data order and augmentation")},
      {"GPU",
       {F{"cuda_graph", &C::cuda_graph,
          "on a GPU, replay the first-order step's two passes from CUDA graphs (same values bit "
          "for bit, 2.7x the images/s on an H200); --no-cuda-graph for eager steps; ignored on "
          "CPU and with --unrolled"}
            .fixed()}},
  },
  // The official PC-DARTS CIFAR search (train_search.py of yuhuixu1993/PC-DARTS, checked field by
  // field; docs/darts.md says where the run differs). Only --method selects it: the data set
  // stays the user's choice.
  {{"--method pc-darts",
    [](const C& c) { return c.method == "pc-darts"; },
    {{"partial_channels", 4},
     {"epochs", 50},
     {"batch_size", 256},
     {"learning_rate", 0.1},
     {"learning_rate_min", 0.0},
     {"momentum", 0.9},
     {"weight_decay", 3e-4},
     {"grad_clip", 5.0},
     {"train_portion", 0.5},
     {"unrolled", false},
     {"arch_learning_rate", 6e-4},
     {"arch_beta1", 0.5},
     {"arch_beta2", 0.999},
     {"arch_weight_decay", 1e-3},
     {"arch_frozen_epochs", 15}}}});
  return table;
}

void to_json(json& j, const SearchRunConfig& c) { j = config_to_json(c); }
void from_json(const json& j, SearchRunConfig& c) { c = config_from_json(j, "search", c); }

void SearchRunConfig::validate() const {
  check_fields(*this);
  AN_CHECK(multiplier <= nodes) << "--multiplier must be in [1, nodes = " << nodes << "], got "
                                << multiplier;
  check_learning_rate_min(learning_rate_min, learning_rate);
  AN_CHECK(subset == 0 || subset >= 2)
      << "--subset must be 0 (all images) or at least 2, got " << subset;
  AN_CHECK(!cutout || cutout_length > 0)
      << "--cutout-length must be positive with --cutout, got " << cutout_length;
  check_stem_choice("--stem", stem);
  AN_CHECK(method == "darts" || method == "pc-darts")
      << "--method must be darts or pc-darts, got '" << method << "'";
  // A search whose α never trains derives its genotype from the random initial α.
  AN_CHECK(arch_frozen_epochs < epochs)
      << "--arch-frozen-epochs (" << arch_frozen_epochs << ") must be less than --epochs ("
      << epochs << "): α would never train"
      << (method == "pc-darts" ? " (--method pc-darts sets the official recipe's value unless "
                                 "--arch-frozen-epochs is given)"
                               : "");
  AN_CHECK(method != "pc-darts" || channels % partial_channels == 0)
      << "--partial-channels (" << partial_channels << ") must divide --channels (" << channels
      << ")";
  if (device != "auto") parse_device(device);  // throws on a malformed name
}

WeightPass weight_pass(SearchNetwork& net, const Tensor& train_images, const Tensor& train_labels) {
  // α's gradient is not needed here (the official code computes and then discards it).
  ParameterGradScope no_alpha_grads(net.alpha_store(), false);
  net.weight_store().zero_grad();
  const Variable logits = net.forward(Variable(train_images));
  const Variable loss = cross_entropy(logits, train_labels);
  backward(loss);
  return {loss.value(), logits.value()};
}

SearchStepResult finish_weight_step(SearchNetwork& net, Sgd& weight_optimizer,
                                    const WeightPass& pass, const Tensor& alpha_loss,
                                    const Tensor& train_labels, double grad_clip,
                                    const std::string& where) {
  Tensor grads = net.weight_store().grads();
  const Tensor norm = clip_grad_norm_async(grads, grad_clip);
  weight_optimizer.step();
  // The step's one host sync: every value is read after all its work is queued. A non-finite
  // value stops the run before anything is checkpointed (the weights in memory are then spoilt).
  if (alpha_loss.defined())
    run::check_finite(alpha_loss.item(), "validation loss of the α step", where);
  SearchStepResult result;
  result.loss = pass.loss.item();
  run::check_finite(result.loss, "training loss", where);
  run::check_finite(norm.item(), "weights' gradient norm", where);
  result.correct = run::count_correct(pass.logits, train_labels);
  return result;
}

SearchStepResult frozen_arch_step(SearchNetwork& net, Sgd& weight_optimizer,
                                  const Tensor& train_images, const Tensor& train_labels,
                                  double grad_clip, const std::string& where) {
  const WeightPass pass = weight_pass(net, train_images, train_labels);
  return finish_weight_step(net, weight_optimizer, pass, Tensor(), train_labels, grad_clip, where);
}

SearchStepResult search_step(SearchNetwork& net, Architect& architect, Sgd& weight_optimizer,
                             const Tensor& train_images, const Tensor& train_labels,
                             const Tensor& valid_images, const Tensor& valid_labels,
                             double grad_clip, const std::string& where) {
  // 1. α step on the validation batch (§3.4/§3.5).
  const Tensor alpha_loss =
      architect.compute_gradient(train_images, train_labels, valid_images, valid_labels);
  architect.apply_gradient();
  // 2. Weight step with the updated α.
  const WeightPass pass = weight_pass(net, train_images, train_labels);
  return finish_weight_step(net, weight_optimizer, pass, alpha_loss, train_labels, grad_clip,
                            where);
}

namespace {

// The search (§3) as a task of the run engine; built identically for a new and a resumed run.
class SearchTask : public run::Task {
 public:
  SearchTask(const SearchRunConfig& config, const data::ImageData& data, Device device)
      : config_(config),
        device_(device),
        train_set_(first_images(data.train, config.subset, "--subset")),
        weights_(static_cast<uint64_t>(config.seed)),
        alphas_(static_cast<uint64_t>(config.seed) + 1),
        net_(network_config(config, data), weights_, alphas_),
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
    ArchitectConfig arch;
    arch.unrolled = config.unrolled;
    arch.learning_rate = config.arch_learning_rate;
    arch.beta1 = config.arch_beta1;
    arch.beta2 = config.arch_beta2;
    arch.weight_decay = config.arch_weight_decay;
    architect_ = std::make_unique<Architect>(net_, *sgd_, arch);
    if (config.cuda_graph && device_.is_cuda() && !config.unrolled)
      captured_step_ =
          std::make_unique<CapturedSearchStep>(net_, *architect_, *sgd_, config.grad_clip);

    // Both halves use the training transform (§3.1); the α stream gets its own order.
    train_loader_ = train_loader_config(config, data, device_);
    valid_loader_ = train_loader_;
    valid_loader_.seed = static_cast<uint64_t>(config.seed) + 1;
    eval_loader_ = train_loader_;
    eval_loader_.shuffle = false;
  }

  static SearchConfig network_config(const SearchRunConfig& c, const data::ImageData& data) {
    SearchConfig s;
    s.channels = c.channels;
    s.layers = c.layers;
    s.nodes = static_cast<int>(c.nodes);
    s.multiplier = static_cast<int>(c.multiplier);
    s.stem_multiplier = c.stem_multiplier;
    s.classes = data.num_classes;
    s.input_channels = data.train.channels();
    s.imagenet_stem = uses_imagenet_stem(c.stem, data.train.height());
    if (c.method == "pc-darts") {
      s.partial_channels = c.partial_channels;
      s.edge_normalization = true;
    }
    return s;
  }

  // What config.json records beyond the flags.
  json run_info(const data::ImageData& data) const {
    json info = {{"kind", kind()},
                 {"device", device_.str()},
                 {"data", data.name},
                 {"image_shape", {train_set_.channels(), train_set_.height(), train_set_.width()}},
                 {"classes", data.num_classes},
                 {"train_images", train_set_.size()},
                 {"weight_images", splits_.search_weights.size()},
                 {"arch_images", splits_.search_arch.size()},
                 {"steps_per_epoch", steps_per_epoch()},
                 {"stem", net_.config().imagenet_stem ? "imagenet" : "cifar"},
                 {"parameters", net_.parameter_count()},
            {"param_size", format_param_size_mb(net_.parameter_count())}};
    info.update(image_folder_info(data));
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
    return {{"valid_stream", {{"pass", valid_pass_}, {"batch", valid_batch_}}},
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
    AN_CHECK(state.value("train_images", int64_t{-1}) == train_set_.size())
        << "the checkpoint was trained on " << state.value("train_images", int64_t{-1})
        << " images, the data set now gives " << train_set_.size();
    valid_pass_ = state.at("valid_stream").at("pass").get<int64_t>();
    valid_batch_ = state.at("valid_stream").at("batch").get<int64_t>();
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
    net_.train();
    data::Loader loader(train_set_, splits_.search_weights, train_loader_,
                        static_cast<uint64_t>(epoch));
    const run::Meter train = epochs_->train(
        loader, lr, [this](const data::Batch& b, const std::string& where) { return step(b, where); });

    // Evaluation on the α half in eval mode (running BN statistics), as infer() (§3.3).
    net_.eval();
    data::Loader eval_loader(train_set_, splits_.search_arch, eval_loader_,
                             static_cast<uint64_t>(epoch));
    const run::EvalResult valid = epochs_->evaluate(
        [this](const Variable& x) { return net_.forward(x); }, eval_loader, "validation");
    net_.train();
    best_.update(valid.accuracy, epoch);
    json record = {{"steps_per_epoch", steps_per_epoch()},
                   {"lr", lr},
                   {"train_loss", train.loss()},
                   {"train_acc", train.accuracy()},
                   {"valid_loss", valid.loss},
                   {"valid_acc", valid.accuracy},
                   {"valid_acc_best", best_.value},
                   {"best_epoch", best_.epoch},
                   {"images_per_s", run::rounded(epochs_->images_per_second(train), 1)},
                   {"genotype_at_start", genotype_last_start_},
                   {"genotype", to_text(net_.genotype())},
                   {"alpha_normal", run::rounded(net_.normal_weights())},
                   {"alpha_reduce", run::rounded(net_.reduce_weights())}};
    if (net_.config().edge_normalization) {
      const int nodes = net_.config().nodes;
      // softmax(β) over each node's edges, in edge order.
      record["beta_normal"] =
          run::rounded({host_edge_normalization(net_.beta_normal(), nodes)}).at(0);
      record["beta_reduce"] =
          run::rounded({host_edge_normalization(net_.beta_reduce(), nodes)}).at(0);
    }
    return {record,
            fmt::format("train loss {:.4f} acc {:.1f}%, valid loss {:.4f} acc {:.1f}%",
                        train.loss(), 100 * train.accuracy(), valid.loss, 100 * valid.accuracy)};
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
    const data::Batch v = next_valid_batch();
    const SearchStepResult r =
        captured_step_
            ? captured_step_->step(b.images, b.labels, v.images, v.labels, where)
            : search_step(net_, *architect_, *sgd_, b.images, b.labels, v.images, v.labels,
                          config_.grad_clip, where);
    return {r.loss, r.correct};
  }

  // The α stream: reshuffled passes over the α half, resumable at (pass, batch).
  data::Batch next_valid_batch() {
    for (;;) {
      if (!valid_stream_)
        valid_stream_ = std::make_unique<data::Loader>(train_set_, splits_.search_arch,
                                                       valid_loader_, valid_pass_, valid_batch_);
      if (std::optional<data::Batch> b = valid_stream_->next()) {
        ++valid_batch_;
        return std::move(*b);
      }
      valid_stream_.reset();
      ++valid_pass_;
      valid_batch_ = 0;
    }
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
  std::unique_ptr<CapturedSearchStep> captured_step_;  // --cuda-graph on a GPU, first order
  data::LoaderConfig train_loader_, valid_loader_, eval_loader_;
  std::unique_ptr<data::Loader> valid_stream_;
  std::optional<run::ImageEpochs> epochs_;  // set by start()

  int64_t valid_pass_ = 0, valid_batch_ = 0;
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
