// Training a genotype from scratch (reference darts.md §5) over a run folder.
#include "darts/train_trainer.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/lr_schedule.h"
#include "autograd/optimizer.h"
#include "darts/augment_model.h"
#include "darts/cell_layout.h"
#include "darts/report.h"
#include "darts/run_folder.h"
#include "datasets/loader.h"
#include "datasets/splits.h"
#include "kernels/reduce.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

#define AN_TRAIN_CONFIG_FIELDS(X)                                                                \
  X(genotype) X(dataset) X(data_dir) X(subset) X(test_subset) X(valid_portion) X(cutout)          \
  X(cutout_length) X(channels) X(layers) X(stem_multiplier) X(auxiliary) X(auxiliary_weight)      \
  X(drop_path_prob) X(epochs) X(batch_size) X(learning_rate) X(learning_rate_min) X(momentum)     \
  X(weight_decay) X(grad_clip) X(seed) X(device) X(workers) X(log_every)                         \
  X(image_size) X(skip_bad_images) X(compute_mean_std) X(network)

AN_DEFINE_CONFIG_JSON(TrainRunConfig, AN_TRAIN_CONFIG_FIELDS)

void TrainRunConfig::validate() const {
  AN_CHECK(!genotype.empty()) << "--genotype is empty";
  AN_CHECK(network == "auto" || network == "cifar" || network == "imagenet")
      << "--network must be auto, cifar or imagenet, got '" << network << "'";
  AN_CHECK(channels > 0) << "--channels must be positive, got " << channels;
  AN_CHECK(layers >= 3) << "--layers must be at least 3 (reduction cells sit at ⌊L/3⌋ and ⌊2L/3⌋ "
                           "and must be distinct), got "
                        << layers;
  AN_CHECK(stem_multiplier >= 1) << "--stem-multiplier must be at least 1, got " << stem_multiplier;
  AN_CHECK(auxiliary_weight >= 0) << "--auxiliary-weight must be non-negative, got "
                                  << auxiliary_weight;
  AN_CHECK(drop_path_prob >= 0 && drop_path_prob < 1)
      << "--drop-path-prob must be in [0, 1), got " << drop_path_prob;
  check_sgd_flags(epochs, batch_size, learning_rate, learning_rate_min, momentum, weight_decay,
                  grad_clip);
  AN_CHECK(subset >= 0) << "--subset must be non-negative, got " << subset;
  AN_CHECK(test_subset >= 0) << "--test-subset must be non-negative, got " << test_subset;
  AN_CHECK(valid_portion >= 0 && valid_portion < 1)
      << "--valid-portion must be in [0, 1), got " << valid_portion;
  AN_CHECK(valid_portion == 0 || test_subset == 0)
      << "--test-subset has no effect with --valid-portion (the test set is not used); drop one";
  AN_CHECK(!cutout || cutout_length > 0)
      << "--cutout-length must be positive with --cutout, got " << cutout_length;
  AN_CHECK(seed >= 0) << "--seed must be non-negative, got " << seed;
  AN_CHECK(workers >= 0 && workers <= 64) << "--workers must be in [0, 64], got " << workers;
  AN_CHECK(log_every >= 0) << "--log-every must be non-negative, got " << log_every;
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
  return config.network == "imagenet" || (config.network == "auto" && image_height >= 128);
}

bool auxiliary_head_fits(int64_t image_height, bool imagenet) {
  if (imagenet) return imagenet_auxiliary_fits(image_height / 32);
  const int64_t at_head = image_height / 4;
  return at_head >= 8 && at_head <= 10;
}

namespace {

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The images a run trains on and those it evaluates on after every epoch.
struct RunImages {
  data::ImageSet train, eval;
  std::vector<int64_t> train_indices, eval_indices;
  std::string eval_set;  // "test", or "valid" (held out of the training images)
};

RunImages run_images(const TrainRunConfig& c, const data::ImageData& data) {
  RunImages r;
  r.train = first_images(data.train, c.subset);
  const int64_t n = r.train.size();
  if (c.valid_portion == 0) {
    r.eval = first_images(data.test, c.test_subset);
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

class TrainRun {
 public:
  TrainRun(const TrainRunConfig& config, const CnnGenotype& genotype, const data::ImageData& data,
           Device device)
      : config_(config),
        genotype_(genotype),
        device_(device),
        images_(run_images(config, data)),
        weights_(static_cast<uint64_t>(config.seed)),
        net_(augment_config(config, data), genotype, weights_),
        schedule_(config.learning_rate, config.epochs, config.learning_rate_min) {
    const bool imagenet = net_.config().imagenet;
    // The CIFAR network halves the images twice, the ImageNet one five times (three stems and
    // two reductions); each FactorizedReduce needs an even input.
    const int64_t multiple = imagenet ? 32 : 4;
    AN_CHECK(images_.train.height() % multiple == 0 && images_.train.width() % multiple == 0)
        << "the " << (imagenet ? "ImageNet" : "CIFAR") << " network needs height and width "
        << "that are multiples of " << multiple << "; " << data.name << " has "
        << images_.train.height() << "×" << images_.train.width() << " images";
    AN_CHECK(!config.auxiliary || auxiliary_head_fits(images_.train.height(), imagenet))
        << "--auxiliary: the head expects " << (imagenet ? "7×7 maps (224×224 images)" : "8×8 maps (32×32 images, as CIFAR-10)")
        << " at cell ⌊2L/3⌋; " << data.name << " has " << images_.train.height() << "×"
        << images_.train.width() << " images: pass --no-auxiliary";
    weights_.to(device_);
    SgdOptions sgd;
    sgd.lr = config.learning_rate;
    sgd.momentum = config.momentum;
    sgd.weight_decay = config.weight_decay;
    sgd_ = std::make_unique<Sgd>(weights_.weights(), weights_.grads(), sgd);

    train_loader_.batch_size = config.batch_size;
    train_loader_.transform = data::train_transform(data, config.cutout, config.cutout_length);
    train_loader_.seed = static_cast<uint64_t>(config.seed);
    train_loader_.workers = static_cast<int>(config.workers);
    train_loader_.device = device_;
    eval_loader_ = train_loader_;
    eval_loader_.shuffle = false;
    eval_loader_.transform = data::test_transform(data);
  }


  json run_info(const data::ImageData& data) const {
    json info = {
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

  std::vector<NamedTensor> checkpoint_tensors() const {
    std::vector<NamedTensor> t = with_prefix("model.", named(weights_.named_tensors()));
    append(t, with_prefix("w_optimizer.", sgd_->state_tensors()));
    return t;
  }

  void save_checkpoint_now() {
    check_finite_weights(weights_.weights(), fmt::format("after epoch {}", epoch_));
    const json state = {{"epoch", epoch_},
                        {"global_step", global_step_},
                        {"drop_path_offset", net_.drop_path_rng().offset()},
                        {"w_optimizer", sgd_->state_json()},
                        {"best", {{eval_key("acc"), best_acc_}, {"epoch", best_epoch_}}},
                        {"last_" + eval_key("acc"), last_acc_},
                        {"last_" + eval_key("loss"), last_loss_},
                        {"train_images", images_.train.size()}};
    folder().save_checkpoint(checkpoint_tensors(), state, "train");
  }

  void load_checkpoint_now() {
    const json state = folder().load_checkpoint(checkpoint_tensors(), "train");
    AN_CHECK(state.value("train_images", int64_t{-1}) == images_.train.size())
        << "the checkpoint was trained on " << state.value("train_images", int64_t{-1})
        << " images, the data set now gives " << images_.train.size();
    epoch_ = state.at("epoch").get<int64_t>();
    global_step_ = state.at("global_step").get<int64_t>();
    net_.drop_path_rng().set_offset(state.at("drop_path_offset").get<uint64_t>());
    sgd_->load_state_json(state.at("w_optimizer"));
    best_acc_ = state.at("best").at(eval_key("acc")).get<double>();
    best_epoch_ = state.at("best").at("epoch").get<int64_t>();
    last_acc_ = state.value("last_" + eval_key("acc"), 0.0);
    last_loss_ = state.value("last_" + eval_key("loss"), 0.0);
  }

  void write_genotype_files() {
    folder().write_file("genotype.txt", to_text(genotype_) + "\n");
    folder().write_file("genotype.json", to_json(genotype_).dump(2) + "\n");
    for (const char* which : {"normal", "reduce"})
      write_drawing(to_dot(genotype_, which), folder().path(which).string());
  }

  TrainOutcome run(const RunOptions& options);

  RunFolder& folder() { return *folder_; }
  // A log key of the evaluated set: "test_acc", "valid_loss", ...
  std::string eval_key(const std::string& what) const { return images_.eval_set + "_" + what; }

  TrainRunConfig config_;
  CnnGenotype genotype_;
  std::optional<RunFolder> folder_;
  Device device_;
  RunImages images_;
  ParameterStore weights_;
  AugmentNetwork net_;
  CosineAnnealingLr schedule_;
  std::unique_ptr<Sgd> sgd_;
  data::LoaderConfig train_loader_, eval_loader_;

  int64_t epoch_ = 0, global_step_ = 0;
  double best_acc_ = -1, last_acc_ = 0, last_loss_ = 0;
  int64_t best_epoch_ = -1;
};

TrainOutcome TrainRun::run(const RunOptions& options) {
  ProgressLine progress(options.progress);
  const int64_t steps = steps_per_epoch();
  StepTracker tracker(progress, folder(), config_.epochs, steps, config_.log_every);
  const std::string title = fmt::format("DARTS training — {}", folder().dir().filename().string());
  if (epoch_ == 0) write_genotype_files();
  int64_t session_epochs = 0;

  while (epoch_ < config_.epochs) {
    if (options.stop_after_epochs >= 0 && session_epochs >= options.stop_after_epochs) break;
    const auto epoch_start = std::chrono::steady_clock::now();
    const double lr = schedule_.lr_at(epoch_);
    sgd_->set_lr(lr);
    // §5.2: p_e = p · e / epochs.
    const double drop_prob = config_.drop_path_prob * static_cast<double>(epoch_) /
                             static_cast<double>(config_.epochs);
    net_.set_drop_path_prob(drop_prob);
    tracker.start_epoch(epoch_, lr);
    net_.train();

    data::Loader loader(images_.train, images_.train_indices, train_loader_,
                        static_cast<uint64_t>(epoch_));
    Meter meter;
    while (true) {
      const auto step_start = std::chrono::steady_clock::now();
      std::optional<data::Batch> b = loader.next();
      if (!b) break;
      const std::string where = fmt::format("at epoch {} step {}", epoch_ + 1, b->index + 1);
      weights_.zero_grad();
      const AugmentNetwork::Output out = net_.forward_all(Variable(b->images));
      Variable loss = cross_entropy(out.logits, b->labels);
      if (out.aux_logits.defined())
        loss = add(loss, scale(cross_entropy(out.aux_logits, b->labels), config_.auxiliary_weight));
      backward(loss);
      Tensor grads = weights_.grads();
      const Tensor norm = clip_grad_norm_async(grads, config_.grad_clip);
      sgd_->step();
      // The step's one host sync, once all its work is queued; a non-finite value stops the run
      // before anything is checkpointed.
      const double loss_value = loss.value().item();
      check_finite(loss_value, "training loss", where);
      check_finite(norm.item(), "weights' gradient norm", where);
      meter.add(loss_value, count_correct(out.logits.value(), b->labels), b->labels.numel());
      ++global_step_;
      tracker.step(b->index, global_step_, meter, seconds_since(step_start));
    }

    // The test set (or the held-out images) after every epoch, as train.py (the last epoch's
    // number is the result).
    const auto eval_start = std::chrono::steady_clock::now();
    net_.eval();
    data::Loader eval_loader(images_.eval, images_.eval_indices, eval_loader_,
                             static_cast<uint64_t>(epoch_));
    const EvalResult eval =
        evaluate([this](const Variable& x) { return net_.forward(x); }, eval_loader);
    net_.train();
    tracker.end_epoch(seconds_since(eval_start));
    check_finite(eval.loss, images_.eval_set + " loss", fmt::format("after epoch {}", epoch_ + 1));
    last_acc_ = eval.accuracy;
    last_loss_ = eval.loss;
    if (eval.accuracy > best_acc_) {
      best_acc_ = eval.accuracy;
      best_epoch_ = epoch_;
    }
    folder().append_log({{"kind", "epoch"},
                         {"epoch", epoch_},
                         {"step", global_step_},
                         {"steps_per_epoch", steps},
                         {"lr", lr},
                         {"drop_path_prob", drop_prob},
                         {"train_loss", meter.loss()},
                         {"train_acc", meter.accuracy()},
                         {eval_key("loss"), eval.loss},
                         {eval_key("acc"), eval.accuracy},
                         {eval_key("top5"), eval.top5},
                         {eval_key("acc_best"), best_acc_},
                         {"best_epoch", best_epoch_},
                         {"images_per_s", rounded(tracker.images_per_second(meter), 1)},
                         {"seconds", rounded(seconds_since(epoch_start), 2)}});
    ++epoch_;
    ++session_epochs;
    save_checkpoint_now();
    write_report(folder(), title);
    progress.update(
        fmt::format("epoch {}/{} done: train loss {:.4f} acc {:.1f}%, {} loss "
                    "{:.4f} acc {:.1f}%, {:.0f} s",
                    epoch_, config_.epochs, meter.loss(), 100 * meter.accuracy(), images_.eval_set,
                    eval.loss, 100 * eval.accuracy, seconds_since(epoch_start)),
        true);
    progress.finish();
  }

  TrainOutcome out;
  out.run_dir = folder().dir();
  out.epochs_done = epoch_;
  out.finished = epoch_ >= config_.epochs;
  out.eval_set = images_.eval_set;
  if (out.eval_set == "valid") {
    out.valid_accuracy = last_acc_;
    out.valid_loss = last_loss_;
    out.best_valid_accuracy = best_acc_;
  } else {
    out.test_accuracy = last_acc_;
    out.best_test_accuracy = best_acc_;
  }
  if (out.finished) write_report(folder(), title);
  return out;
}

}  // namespace

TrainOutcome run_training(const TrainRunConfig& config, const data::ImageData& data,
                          const fs::path& run_dir, const RunOptions& options) {
  config.validate();
  const CnnGenotype genotype = load_cnn_genotype(config.genotype);
  const Device device = resolve_device(config.device);
  TrainRun run(config, genotype, data, device);
  json resolved = config;
  resolved["run"] = run.run_info(data);
  run.folder_ = RunFolder::create(run_dir, resolved);
  log_skipped_images(*run.folder_, data);
  return run.run(options);
}

TrainOutcome resume_training(const fs::path& run_dir, const data::ImageData& data,
                             const RunOptions& options) {
  RunFolder folder = RunFolder::open(run_dir);
  json stored = folder.config();
  const json info = stored.value("run", json::object());
  stored.erase("run");
  const TrainRunConfig config = config_from_json<TrainRunConfig>(stored, "train");
  config.validate();
  // The genotype as resolved when the run started (its file may have changed since).
  const CnnGenotype genotype = info.contains("genotype")
                                   ? parse_cnn_genotype(info["genotype"].get<std::string>())
                                   : load_cnn_genotype(config.genotype);
  const Device device = resolve_device(options.device.empty() ? config.device : options.device);
  TrainRun run(config, genotype, data, device);
  run.folder_ = folder;
  run.load_checkpoint_now();
  return run.run(options);
}

}  // namespace autonet::darts
