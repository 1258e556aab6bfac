// Training a genotype from scratch (reference darts.md §5) as a task of the run engine.
#include "darts/tasks/train_trainer.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/lr_schedule.h"
#include "autograd/optimizer.h"
#include "darts/cnn/augment_model.h"
#include "darts/cnn/cell_layout.h"
#include "darts/tasks/report.h"
#include "datasets/loader.h"
#include "datasets/registry.h"
#include "datasets/splits.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "run/image_epochs.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

const ConfigTable<TrainRunConfig>& TrainRunConfig::table() {
  using C = TrainRunConfig;
  using F = ConfigField<C>;
  static const ConfigTable<C> table({
      {"Network",
       {F{"genotype", &C::genotype,
          "NASNet, AmoebaNet, DARTS_V1, DARTS_V2, DARTS, a genotype.txt/.json file (e.g. a "
          "search run's), or the genotype text"},
        F{"channels", &C::channels, "C: channels of the first cells", positive()},
        F{"layers", &C::layers, "L: cells",
          at_least(3, "reduction cells sit at ⌊L/3⌋ and ⌊2L/3⌋ and must be distinct")},
        F{"network", &C::network,
          "cifar (NetworkCIFAR), imagenet (NetworkImageNet: two stride-2 stems, the ImageNet "
          "auxiliary head), or auto: imagenet for images of 128 pixels and more"},
        F{"stem_multiplier", &C::stem_multiplier,
          "the stem outputs stem_multiplier · C channels (CIFAR network only)", at_least(1)},
        F{"auxiliary", &C::auxiliary,
          "auxiliary head after cell ⌊2L/3⌋ (the paper's recipe; needs 32×32 images, 224×224 "
          "with the ImageNet network: off by itself for other sizes unless asked for)"},
        F{"auxiliary_weight", &C::auxiliary_weight, "weight of the auxiliary loss",
          non_negative()},
        F{"drop_path_prob", &C::drop_path_prob,
          "drop-path probability, ramped linearly from 0 over the epochs", half_open(0, 1)}}},
      {"Data", image_data_fields<C>()},
      {"Data",
       {F{"test_subset", &C::test_subset, "evaluate on the first N test images (0: all)",
          non_negative()},
        F{"valid_portion", &C::valid_portion,
          "hold out this part of the training images (drawn from the seed) and evaluate on it "
          "instead of the test set, which is then never read (0: evaluate on the test set)",
          half_open(0, 1)}}},
      {"Optimisation", sgd_fields<C>("batch size")},
      {"Optimisation",
       {F{"lr_schedule", &C::lr_schedule,
          "cosine (to --learning-rate-min over the epochs, as train.py) or step (×--lr-gamma "
          "every --lr-decay-period epochs, as train_imagenet.py)"},
        F{"lr_gamma", &C::lr_gamma, "--lr-schedule step: the factor of each decay",
          Bounds{.low = 0, .high = 1, .low_open = true, .high_open = false, .why = ""}},
        F{"lr_decay_period", &C::lr_decay_period, "--lr-schedule step: epochs between decays",
          at_least(1)},
        F{"label_smoothing", &C::label_smoothing,
          "label smoothing ε of the training loss (targets (1−ε)·one-hot + ε/classes; the "
          "evaluation's loss is plain cross-entropy)",
          half_open(0, 1)}}},
      {"Run", image_run_fields<C>("seed of weights, data order, augmentation, drop path")},
  }, {imagenet_recipe()});
  return table;
}

void to_json(json& j, const TrainRunConfig& c) { j = config_to_json(c); }
void from_json(const json& j, TrainRunConfig& c) { c = config_from_json(j, "train", c); }

void TrainRunConfig::validate() const {
  check_fields(*this);
  AN_CHECK(!genotype.empty()) << "--genotype is empty";
  check_stem_choice("--network", network);
  check_learning_rate_min(learning_rate_min, learning_rate);
  AN_CHECK(lr_schedule == "cosine" || lr_schedule == "step")
      << "--lr-schedule must be cosine or step, got '" << lr_schedule << "'";
  AN_CHECK(valid_portion == 0 || test_subset == 0)
      << "--test-subset has no effect with --valid-portion (the test set is not used); drop one";
  AN_CHECK(!cutout || cutout_length > 0)
      << "--cutout-length must be positive with --cutout, got " << cutout_length;
  if (device != "auto") parse_device(device);
}

AugmentConfig augment_config(const TrainRunConfig& c, const data::ImageData& data) {
  AugmentConfig a;
  a.channels = c.channels;
  a.layers = c.layers;
  a.stem_multiplier = c.stem_multiplier;
  a.classes = data.num_classes;
  a.input_channels = data.train.channels();
  a.auxiliary = c.auxiliary;
  a.imagenet = uses_imagenet_network(c, data.train.height());
  a.seed = static_cast<uint64_t>(c.seed);
  return a;
}

bool uses_imagenet_network(const TrainRunConfig& config, int64_t image_height) {
  return uses_imagenet_stem(config.network, image_height);
}

bool auxiliary_head_fits(int64_t image_height, bool imagenet) {
  if (imagenet) return imagenet_auxiliary_fits(image_height / 32);
  const int64_t at_head = image_height / 4;
  return at_head >= 8 && at_head <= 10;
}

const ConfigPreset<TrainRunConfig>& imagenet_recipe() {
  static const ConfigPreset<TrainRunConfig> recipe{
      "ImageNet network",
      [](const TrainRunConfig& c) { return uses_imagenet_network(c, configured_image_height(c)); },
      {{"channels", 48},
       {"layers", 14},
       {"batch_size", 128},
       {"epochs", 250},
       {"learning_rate", 0.1},
       {"lr_schedule", "step"},
       {"lr_gamma", 0.97},
       {"lr_decay_period", 1},
       {"weight_decay", 3e-5},
       {"label_smoothing", 0.1},
       {"grad_clip", 5.0},
       {"auxiliary_weight", 0.4},
       {"drop_path_prob", 0.0},
       {"cutout", false}}};
  return recipe;
}

int64_t configured_image_height(const TrainRunConfig& c) {
  return data::canonical_dataset_name(c.dataset) == "folder" ? c.image_size : 0;
}

std::vector<std::string> settle_for_images(TrainRunConfig& c,
                                           const std::vector<std::string>& keys_set,
                                           int64_t image_height) {
  std::vector<std::string> notes;
  const bool imagenet = uses_imagenet_network(c, image_height);
  if (imagenet) {
    const std::vector<std::string> applied = apply_preset(c, imagenet_recipe(), keys_set);
    if (!applied.empty()) {
      std::string keys;
      for (const std::string& k : applied) keys += (keys.empty() ? "" : ", ") + flag_of(k);
      notes.push_back("the ImageNet network trains with train_imagenet.py's recipe where no flag "
                      "says otherwise: " + keys);
    }
  }
  // The head is the paper's recipe on the images it was made for; elsewhere it is off unless
  // asked for (then the trainer explains why it cannot run).
  const bool head_set = std::find(keys_set.begin(), keys_set.end(), "auxiliary") != keys_set.end();
  if (image_height > 0 && c.auxiliary && !head_set &&
      !auxiliary_head_fits(image_height, imagenet)) {
    c.auxiliary = false;
    notes.push_back(fmt::format("no auxiliary head for {}-pixel images (it needs {})",
                                image_height, imagenet ? "224×224" : "32×32"));
  }
  return notes;
}

namespace {

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::unique_ptr<LrSchedule> lr_schedule(const TrainRunConfig& c) {
  if (c.lr_schedule == "step") return std::make_unique<StepLr>(c.learning_rate, c.lr_decay_period, c.lr_gamma);
  return std::make_unique<CosineAnnealingLr>(c.learning_rate, c.epochs, c.learning_rate_min);
}

}  // namespace

RunImages run_images(const TrainRunConfig& c, const data::ImageData& data) {
  RunImages r;
  r.train = first_images(data.train, c.subset, "--subset");
  const int64_t n = r.train.size();
  if (c.valid_portion == 0) {
    r.eval = first_images(data.test, c.test_subset, "--test-subset");
    AN_CHECK(r.eval.size() > 0) << data.name << " has no test images to evaluate on (an image "
                                << "folder needs DIR/train and DIR/val); pass --valid-portion P "
                                << "to evaluate on a held-out part of the training images";
    r.train_indices = all_indices(n);
    r.eval_indices = all_indices(r.eval.size());
    r.eval_set = "test";
    return r;
  }
  // The test set stays untouched: the held-out images come from the training images.
  AN_CHECK(std::floor(c.valid_portion * static_cast<double>(n)) >= 1)
      << "--valid-portion " << c.valid_portion << " of " << n
      << " training images holds out none (⌊portion · images⌋ = 0): raise it or the --subset";
  data::SplitConfig split;
  split.valid_portion = c.valid_portion;
  split.seed = static_cast<uint64_t>(c.seed);
  data::Splits s = data::make_splits(n, 0, split);
  r.eval = r.train;
  r.train_indices = std::move(s.final_train);
  r.eval_indices = std::move(s.final_valid);
  r.eval_set = "valid";
  return r;
}

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
    check_image_size(images_.train, data.name);
    const bool imagenet = net_.config().imagenet;
    // The ImageNet network halves the images three more times in its stems.
    AN_CHECK(!imagenet || (images_.train.height() % 32 == 0 && images_.train.width() % 32 == 0))
        << "the ImageNet network needs height and width that are multiples of 32; " << data.name
        << " has " << images_.train.height() << "×" << images_.train.width() << " images";
    AN_CHECK(!config.auxiliary || auxiliary_head_fits(images_.train.height(), imagenet))
        << "--auxiliary: the head expects "
        << (imagenet ? "7×7 maps (224×224 images)" : "8×8 maps (32×32 images, as CIFAR-10)")
        << " at cell ⌊2L/3⌋; " << data.name << " has " << images_.train.height() << "×"
        << images_.train.width() << " images: pass --no-auxiliary";
    weights_.to(device_);
    sgd_ = weight_sgd(weights_, config);
    train_loader_ = train_loader_config(config, data, device_);
    eval_loader_ = train_loader_;
    eval_loader_.shuffle = false;
    eval_loader_.transform = data::test_transform(data);
  }

  // What config.json records beyond the flags.
  json run_info(const data::ImageData& data) const {
    json info = {
        {"kind", kind()},
        {"device", device_.str()},
        {"data", data.name},
        {"genotype", to_text(genotype_)},
        {"network", net_.config().imagenet ? "imagenet" : "cifar"},
        {"image_shape", {images_.train.channels(), images_.train.height(), images_.train.width()}},
        {"classes", data.num_classes},
        {"train_images", images_.train_indices.size()},
        {images_.eval_set + "_images", images_.eval_indices.size()},
        {"steps_per_epoch", steps_per_epoch()},
        {"parameters", net_.parameter_count()},
        {"param_size", format_param_size_mb(net_.parameter_count())},
        {"auxiliary_parameters", net_.auxiliary_parameter_count()}};
    info.update(image_folder_info(data));
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
    AN_CHECK(state.value("train_images", int64_t{-1}) == images_.train.size())
        << "the checkpoint was trained on " << state.value("train_images", int64_t{-1})
        << " images, the data set now gives " << images_.train.size();
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
    net_.train();
    data::Loader loader(images_.train, images_.train_indices, train_loader_,
                        static_cast<uint64_t>(epoch));
    const run::Meter train = epochs_->train(
        loader, lr, [this](const data::Batch& b, const std::string& where) { return step(b, where); });

    // The test set (or the held-out images) after every epoch, as train.py (the last epoch's
    // number is the result).
    net_.eval();
    data::Loader eval_loader(images_.eval, images_.eval_indices, eval_loader_,
                             static_cast<uint64_t>(epoch));
    const run::EvalResult eval = epochs_->evaluate(
        [this](const Variable& x) { return net_.forward(x); }, eval_loader, images_.eval_set);
    net_.train();
    last_acc_ = eval.accuracy;
    last_loss_ = eval.loss;
    // best.safetensors: the network of the best epoch, for `autonet eval --checkpoint best` (as
    // train_imagenet.py's model_best; chosen on the test set, it is for reference only).
    if (best_.update(eval.accuracy, epoch)) engine.save_best();
    return {{{"steps_per_epoch", steps_per_epoch()},
             {"lr", lr},
             {"drop_path_prob", drop_prob},
             {"train_loss", train.loss()},
             {"train_acc", train.accuracy()},
             {eval_key("loss"), eval.loss},
             {eval_key("acc"), eval.accuracy},
             {eval_key("top5"), eval.top5},
             {eval_key("acc_best"), best_.value},
             {"best_epoch", best_.epoch},
             {"images_per_s", run::rounded(epochs_->images_per_second(train), 1)}},
            fmt::format("train loss {:.4f} acc {:.1f}%, {} loss {:.4f} acc {:.1f}%", train.loss(),
                        100 * train.accuracy(), images_.eval_set, eval.loss, 100 * eval.accuracy)};
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
