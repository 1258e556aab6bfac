// The derived (augment) network that is trained from scratch (reference darts.md §5): cells built
// from a genotype with affine BNs, drop path, and an auxiliary head in training.
//
//   ParameterStore weights(seed);
//   AugmentNetwork net(AugmentConfig{}, published_cnn_genotype("DARTS_V2"), weights);
//   net.set_drop_path_prob(0.2 * epoch / epochs);
//   AugmentNetwork::Output out = net.forward_all(x);   // out.aux_logits: training + auxiliary
//   loss = CE(out.logits) + 0.4 · CE(out.aux_logits)
//
// With AugmentConfig::imagenet, NetworkImageNet (darts/cnn/imagenet_model.h) instead of
// NetworkCIFAR. Parameter names follow model.py: `stem.0.weight` (ImageNet: `stem0.0.weight`), `cells.0.preprocess0.op.1.weight`,
// `cells.0._ops.0.op.1.weight` (op 0 of the genotype list), `auxiliary_head.features.2.weight`,
// `classifier.weight`; creation order stem, cells, auxiliary_head, classifier.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/modules.h"
#include "darts/cnn/imagenet_model.h"
#include "darts/genotype/genotype.h"
#include "runtime/philox.h"

namespace autonet::darts {

struct AugmentConfig {
  int64_t channels = 36;  // C
  int64_t layers = 20;    // L
  int64_t stem_multiplier = 3;
  int64_t classes = 10;
  int64_t input_channels = 3;
  bool auxiliary = true;  // head after cell ⌊2L/3⌋, run in training only
  bool imagenet = false;  // NetworkImageNet's stems and head (darts/cnn/imagenet_model.h)
  uint64_t seed = 0;      // drop-path masks: Philox(seed, kDropPathStream)
  void validate() const;
};

// Philox stream of the drop-path masks.
constexpr uint32_t kDropPathStream = 0xD0;

class AugmentCell : public Module {
 public:
  AugmentCell(ParameterStore& store, std::string name, const CnnGenotype& genotype, int64_t c_pp,
              int64_t c_p, int64_t channels, bool reduction, bool reduction_prev);
  // Drop path (drop_prob > 0, training only) skips identity ops; masks come from `rng`.
  Variable forward(const Variable& s0, const Variable& s1, double drop_prob, PhiloxGenerator& rng);
  bool reduction() const { return reduction_; }
  int nodes() const { return static_cast<int>(ops_.size()) / 2; }
  int64_t out_channels() const { return static_cast<int64_t>(concat_.size()) * channels_; }
  Module& op(size_t i) const { return *ops_.at(i); }  // genotype list order

 private:
  bool reduction_;
  int64_t channels_;
  std::unique_ptr<Module> preprocess0_, preprocess1_;
  std::vector<std::unique_ptr<Module>> ops_;
  std::vector<int> indices_, concat_;
};

// ReLU → avg pool 5×5 stride 3 (8×8 → 2×2) → conv 1×1 C→128 → BN → ReLU → conv 2×2 128→768 →
// BN → ReLU → Linear(768 → classes). Expects an 8×8 input (CIFAR at the second reduction).
class AuxiliaryHead : public Module {
 public:
  AuxiliaryHead(ParameterStore& store, std::string name, int64_t channels, int64_t classes);
  Variable forward(const Variable& x) override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  Linear classifier_;
};

class AugmentNetwork : public Module {
 public:
  AugmentNetwork(const AugmentConfig& config, const CnnGenotype& genotype, ParameterStore& weights);

  struct Output {
    Variable logits;      // [N, classes]
    Variable aux_logits;  // [N, classes] in training with the auxiliary head; else undefined
  };
  Output forward_all(const Variable& x);
  Variable forward(const Variable& x) override { return forward_all(x).logits; }

  // Drop-path probability of the coming forwards (the trainer ramps it per epoch).
  void set_drop_path_prob(double p);
  double drop_path_prob() const { return drop_path_prob_; }
  PhiloxGenerator& drop_path_rng() { return drop_path_rng_; }  // its offset goes in checkpoints
  const PhiloxGenerator& drop_path_rng() const { return drop_path_rng_; }

  // Weights without the auxiliary head (the official count): 3,349,342 for DARTS_V2 defaults.
  int64_t parameter_count() const { return parameter_count_; }
  int64_t auxiliary_parameter_count() const { return auxiliary_parameter_count_; }
  const AugmentConfig& config() const { return config_; }
  const CnnGenotype& genotype() const { return genotype_; }
  size_t num_cells() const { return cells_.size(); }
  AugmentCell& cell(size_t i) const { return *cells_.at(i); }
  ParameterStore& weight_store() const { return weights_; }

 private:
  AugmentConfig config_;
  CnnGenotype genotype_;
  ParameterStore& weights_;
  std::unique_ptr<NetworkStem> stem_;
  std::vector<std::unique_ptr<AugmentCell>> cells_;
  std::unique_ptr<Module> auxiliary_head_;
  std::unique_ptr<Linear> classifier_;
  int64_t auxiliary_cell_ = -1;
  double drop_path_prob_ = 0.0;
  PhiloxGenerator drop_path_rng_;
  int64_t parameter_count_ = 0, auxiliary_parameter_count_ = 0;
};

}  // namespace autonet::darts
