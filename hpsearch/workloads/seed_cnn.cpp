#include "hpsearch/workloads/seed_cnn.h"

#include <array>
#include <chrono>
#include <cmath>
#include <set>

#include "autograd/functions.h"
#include "autograd/modules.h"
#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "datasets/loader.h"
#include "datasets/registry.h"
#include "datasets/splits.h"
#include "datasets/transforms.h"
#include "run/evaluation.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// The seed's network. x [N, C, H, W] → logits [N, classes].
class SeedCnn : public Module {
 public:
  SeedCnn(ParameterStore& store, const data::ImageData& data, double width,
          const std::array<double, 4>& dropout, uint64_t seed)
      : Module("") {
    int64_t c_in = data.train.channels(), h = data.train.height(), w = data.train.width();
    for (int b = 0; b < 3; ++b) {
      const int64_t c = std::max<int64_t>(1, std::llround((32 << b) * width));
      for (int k = 0; k < 2; ++k) {
        convs_.push_back(std::make_unique<Conv2d>(store, "features." + std::to_string(2 * b + k),
                                                  k == 0 ? c_in : c, c, 3, 1, 1, 1, /*bias=*/true));
        register_child(*convs_.back());
      }
      drops_.push_back(std::make_unique<Dropout>("drop" + std::to_string(b), dropout[b], seed, 100 + b));
      register_child(*drops_.back());
      c_in = c;
      h /= 2;
      w /= 2;
    }
    const int64_t hidden = std::max<int64_t>(1, std::llround(128 * width));
    fc1_ = std::make_unique<Linear>(store, "classifier.0", c_in * h * w, hidden);
    fc2_ = std::make_unique<Linear>(store, "classifier.1", hidden, data.num_classes);
    drops_.push_back(std::make_unique<Dropout>("drop3", dropout[3], seed, 103));
    register_child(*fc1_);
    register_child(*fc2_);
    register_child(*drops_.back());
    // Keras' initialisers, as the notebook: he_uniform kernels (the default PyTorch bound
    // 1/sqrt(fan_in) shrinks the signal ~6× in variance per ReLU layer, and 7 such layers leave
    // the network at chance), glorot_uniform for the output layer, zero biases.
    uint32_t stream = 200;
    for (const auto& conv : convs_) init_uniform(conv->weight, std::sqrt(6.0 / fan_in(conv->weight)), seed, stream++);
    init_uniform(fc1_->weight, std::sqrt(6.0 / fan_in(fc1_->weight)), seed, stream++);
    init_uniform(fc2_->weight, std::sqrt(6.0 / static_cast<double>(fc2_->weight.size(0) + fc2_->weight.size(1))), seed, stream++);
    for (const auto& conv : convs_) conv->bias.value().zero_();
    fc1_->bias.value().zero_();
    fc2_->bias.value().zero_();
  }

  Variable forward(const Variable& input) override {
    Variable x = input;
    for (int b = 0; b < 3; ++b) {
      x = relu((*convs_[2 * b])(x));
      x = relu((*convs_[2 * b + 1])(x));
      x = max_pool2d(x, 2, 2, 0);
      x = (*drops_[b])(x);
    }
    x = reshape(x, {x.size(0), -1});
    x = (*drops_[3])(relu((*fc1_)(x)));
    return (*fc2_)(x);
  }

  static double fan_in(const Variable& w) { return static_cast<double>(w.numel() / w.size(0)); }

  // U(−bound, bound) from Philox (seed, stream), written through a host copy (any device).
  static void init_uniform(Variable& w, double bound, uint64_t seed, uint32_t stream) {
    Tensor host = Tensor::empty(w.shape(), DType::f32, Device::cpu());
    float* p = host.data<float>();
    const PhiloxKey key{seed, stream, 0};
    for (int64_t i = 0; i < host.numel(); ++i)
      p[i] = static_cast<float>((2.0 * philox_uniform(key, static_cast<uint64_t>(i)) - 1.0) * bound);
    w.value().copy_from(host);
  }

  // The 7 kernels the notebook regularised: 6 convs and the hidden dense layer.
  std::vector<Variable> l2_weights() const {
    std::vector<Variable> out;
    for (const auto& c : convs_) out.push_back(c->weight);
    out.push_back(fc1_->weight);
    return out;
  }

 private:
  std::vector<std::unique_ptr<Conv2d>> convs_;
  std::vector<std::unique_ptr<Dropout>> drops_;
  std::unique_ptr<Linear> fc1_, fc2_;
};

// A trial parameter by its group name ("dropout" for all) or its indexed name ("dropout2").
double group_param(const Json& params, const std::string& group, const std::string& indexed,
                   double fallback) {
  if (params.contains(indexed)) return params[indexed].get<double>();
  if (params.contains(group)) return params[group].get<double>();
  return fallback;
}

class SeedCnnWorkload : public TrialWorkload {
 public:
  explicit SeedCnnWorkload(const Json& config) : config_(config) {
    static const std::set<std::string> known{"name",       "dataset",    "data_dir", "epochs",
                                             "batch_size", "valid_portion", "train_size",
                                             "valid_size", "width",      "momentum", "split_seed"};
    for (const auto& [key, _] : config.items())
      AN_CHECK(known.count(key)) << "workload 'seed-cnn': unknown option \"" << key << "\"";
    data_ = data::open_image_dataset(config.value("dataset", std::string("fashion-mnist")),
                                     config.value("data_dir", std::string()));
    data::SplitConfig split;
    split.valid_portion = config.value("valid_portion", 0.1);
    split.seed = config.value("split_seed", uint64_t{2});
    AN_CHECK(split.valid_portion > 0 && split.valid_portion < 1)
        << "workload 'seed-cnn': valid_portion must be in (0, 1): the objective needs a held-out split";
    const data::Splits s = data::make_splits(data_.train.size(), data_.test.size(), split);
    train_ = s.final_train;
    valid_ = s.final_valid;
    if (const int64_t n = config.value("train_size", int64_t{0}); n > 0 && n < static_cast<int64_t>(train_.size()))
      train_.resize(static_cast<size_t>(n));
    if (const int64_t n = config.value("valid_size", int64_t{0}); n > 0 && n < static_cast<int64_t>(valid_.size()))
      valid_.resize(static_cast<size_t>(n));
  }

  TrialResult run(const Json& params, const TrialContext& ctx, Reporter& reporter) override {
    const auto t0 = std::chrono::steady_clock::now();
    const Device device = parse_device(ctx.device);
    std::array<double, 4> dropout;
    for (int i = 0; i < 4; ++i) dropout[i] = group_param(params, "dropout", "dropout" + std::to_string(i), 0.25);
    std::array<double, 7> l2;
    for (int i = 0; i < 7; ++i) l2[i] = group_param(params, "l2", "l2_" + std::to_string(i), 0.0);
    ParameterStore store(ctx.seed, DType::f32, device);
    SeedCnn model(store, data_, config_.value("width", 1.0), dropout, ctx.seed);
    SgdOptions sgd;
    sgd.lr = params.value("lr", 0.01);
    sgd.momentum = params.value("momentum", config_.value("momentum", 0.9));
    Sgd optimizer(store.weights(), store.grads(), sgd);
    const std::vector<Variable> kernels = model.l2_weights();

    data::LoaderConfig train_loader;
    train_loader.batch_size = config_.value("batch_size", int64_t{64});
    train_loader.transform = data::test_transform(data_);  // the notebook did not augment
    train_loader.seed = ctx.seed;
    train_loader.workers = 1;
    train_loader.device = device;
    data::LoaderConfig valid_loader = train_loader;
    valid_loader.shuffle = false;

    const int epochs = config_.value("epochs", 10);
    double val_loss = NAN, accuracy = 0, train_loss = NAN;
    int64_t images = 0;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      model.train();
      run::Meter train;  // the cross-entropy without the L2 term
      data::Loader loader(data_.train, train_, train_loader, static_cast<uint64_t>(epoch));
      while (auto batch = loader.next()) {
        store.zero_grad();
        const Variable logits = model(Variable(batch->images));
        const Variable ce = cross_entropy(logits, batch->labels);
        Variable loss = ce;
        for (size_t i = 0; i < kernels.size(); ++i)
          if (l2[i] != 0) loss = add(loss, scale(sum_all(mul(kernels[i], kernels[i])), l2[i]));
        backward(loss);
        optimizer.step();
        train.add(ce.value().item(), 0, batch->labels.size(0));
      }
      images += train.count;
      train_loss = train.loss();
      // The validation split without dropout or gradients.
      model.eval();
      data::Loader valid(data_.train, valid_, valid_loader, 0);
      const run::EvalResult v = run::evaluate([&](const Variable& x) { return model(x); }, valid);
      val_loss = v.loss;
      accuracy = v.accuracy;
      if (reporter.report(epoch, val_loss, {{"accuracy", accuracy}, {"train_loss", train_loss}}, epochs))
        break;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {val_loss,
            {{"accuracy", accuracy},
             {"train_loss", train_loss},
             {"seconds", seconds},
             {"train_images_per_s", static_cast<double>(images) / seconds},
             {"parameters", store.num_parameters()}}};
  }

 private:
  static Variable sum_all(const Variable& x) { return sum(x); }

  Json config_;
  data::ImageData data_;
  std::vector<int64_t> train_, valid_;
};

}  // namespace

std::unique_ptr<TrialWorkload> make_seed_cnn_workload(const Json& config) {
  return std::make_unique<SeedCnnWorkload>(config);
}

}  // namespace autonet::hpsearch
