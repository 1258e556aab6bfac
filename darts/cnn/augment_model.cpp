// The derived (augment) network (reference darts.md §5).
#include "darts/cnn/augment_model.h"

#include "darts/cnn/cell_layout.h"
#include "darts/cnn/drop_path.h"
#include "darts/cnn/ops.h"
#include "runtime/error.h"

namespace autonet::darts {

void AugmentConfig::validate() const {
  AN_CHECK(channels > 0) << "augment config: channels must be positive, got " << channels;
  AN_CHECK(layers > 0) << "augment config: layers must be positive, got " << layers;
  AN_CHECK(stem_multiplier > 0) << "augment config: stem_multiplier must be positive";
  AN_CHECK(classes > 0) << "augment config: classes must be positive, got " << classes;
  AN_CHECK(input_channels > 0) << "augment config: input_channels must be positive";
}

AugmentCell::AugmentCell(ParameterStore& store, std::string name, const CnnGenotype& genotype,
                         int64_t c_pp, int64_t c_p, int64_t channels, bool reduction,
                         bool reduction_prev)
    : Module(std::move(name)), reduction_(reduction), channels_(channels) {
  if (reduction_prev)
    preprocess0_ = std::make_unique<FactorizedReduce>(store, child_name("preprocess0"), c_pp,
                                                      channels, true);
  else
    preprocess0_ = std::make_unique<ReLUConvBN>(store, child_name("preprocess0"), c_pp, channels,
                                                1, 1, 0, true);
  preprocess1_ =
      std::make_unique<ReLUConvBN>(store, child_name("preprocess1"), c_p, channels, 1, 1, 0, true);
  register_child(*preprocess0_);
  register_child(*preprocess1_);

  const std::vector<OpEdge>& edges = reduction ? genotype.reduce : genotype.normal;
  concat_ = reduction ? genotype.reduce_concat : genotype.normal_concat;
  AN_CHECK(!edges.empty() && edges.size() % 2 == 0)
      << "cell '" << this->name() << "': a genotype cell lists two (op, input) pairs per node, got "
      << edges.size() << " entries";
  for (size_t i = 0; i < edges.size(); ++i) {
    const auto& [op_name, input] = edges[i];
    const int stride = reduction && input < 2 ? 2 : 1;
    ops_.push_back(make_op(store, child_name("_ops." + std::to_string(i)), op_name, channels,
                           stride, OpContext::augment));
    register_child(*ops_.back());
    indices_.push_back(input);
  }
}

Variable AugmentCell::forward(const Variable& s0, const Variable& s1, double drop_prob,
                              PhiloxGenerator& rng) {
  std::vector<Variable> states{preprocess0_->forward(s0), preprocess1_->forward(s1)};
  const bool drop = training() && drop_prob > 0.0;
  auto branch = [&](size_t i) {
    Variable h = ops_[i]->forward(states.at(indices_[i]));
    if (drop && !is_identity(*ops_[i])) h = drop_path(h, drop_prob, rng.next(h.size(0)));
    return h;
  };
  for (size_t i = 0; i + 1 < ops_.size(); i += 2) {
    const Variable h1 = branch(i), h2 = branch(i + 1);
    states.push_back(add(h1, h2));
  }
  std::vector<Variable> out;
  out.reserve(concat_.size());
  for (int index : concat_) out.push_back(states.at(index));
  return out.size() == 1 ? out[0] : concat(out, 1);
}

AuxiliaryHead::AuxiliaryHead(ParameterStore& store, std::string name, int64_t channels,
                             int64_t classes)
    : Module(std::move(name)),
      conv1_(store, child_name("features.2"), channels, 128, 1),
      bn1_(store, child_name("features.3"), 128, true),
      conv2_(store, child_name("features.5"), 128, 768, 2),
      bn2_(store, child_name("features.6"), 768, true),
      classifier_(store, child_name("classifier"), 768, classes) {
  for (Module* m : std::initializer_list<Module*>{&conv1_, &bn1_, &conv2_, &bn2_, &classifier_})
    register_child(*m);
}

Variable AuxiliaryHead::forward(const Variable& x) {
  AN_CHECK(x.dim() == 4 && x.size(2) == 8 && x.size(3) == 8)
      << "auxiliary head '" << name() << "' expects an 8×8 input (→ 2×2 → 1×1), got "
      << x.value().describe();
  // The official first ReLU is in place on the cell's output; a plain ReLU gives the same
  // values and gradients (the cell's consumers start with a ReLU themselves).
  Variable h = avg_pool2d(relu(x), 5, 3, 0, false);  // [N, C, 2, 2]
  h = relu(bn1_.forward(conv1_.forward(h)));         // [N, 128, 2, 2]
  h = relu(bn2_.forward(conv2_.forward(h)));         // [N, 768, 1, 1]
  return classifier_.forward(view(h, {h.size(0), h.size(1)}));
}

AugmentNetwork::AugmentNetwork(const AugmentConfig& config, const CnnGenotype& genotype,
                               ParameterStore& weights)
    : Module(""),
      config_(config),
      genotype_(genotype),
      weights_(weights),
      drop_path_rng_(config.seed, kDropPathStream) {
  config_.validate();
  validate(genotype_);
  const int64_t before = weights.num_parameters();

  // CIFAR: one stem of stem_multiplier·C channels at full size. ImageNet: two stride-2 stems of
  // C channels, the first cell's s0 coming from the one that is twice as large.
  int64_t c_curr = config_.imagenet ? config_.channels : config_.stem_multiplier * config_.channels;
  stem_ = std::make_unique<NetworkStem>(weights, config_.input_channels, c_curr, config_.imagenet);
  register_child(*stem_);

  int64_t c_pp = c_curr, c_p = c_curr, c_auxiliary = 0;
  c_curr = config_.channels;
  bool reduction_prev = stem_->imagenet();
  for (int64_t i = 0; i < config_.layers; ++i) {
    const bool reduction = is_reduction_cell(i, config_.layers);
    if (reduction) c_curr *= 2;
    cells_.push_back(std::make_unique<AugmentCell>(weights, "cells." + std::to_string(i),
                                                   genotype_, c_pp, c_p, c_curr, reduction,
                                                   reduction_prev));
    register_child(*cells_.back());
    reduction_prev = reduction;
    c_pp = c_p;
    c_p = cells_.back()->out_channels();
    if (i == 2 * config_.layers / 3) c_auxiliary = c_p;
  }
  if (config_.auxiliary) {
    const int64_t before_auxiliary = weights.num_parameters();
    auxiliary_cell_ = 2 * config_.layers / 3;
    if (config_.imagenet)
      auxiliary_head_ = std::make_unique<AuxiliaryHeadImageNet>(weights, "auxiliary_head",
                                                                c_auxiliary, config_.classes);
    else
      auxiliary_head_ =
          std::make_unique<AuxiliaryHead>(weights, "auxiliary_head", c_auxiliary, config_.classes);
    register_child(*auxiliary_head_);
    auxiliary_parameter_count_ = weights.num_parameters() - before_auxiliary;
  }
  classifier_ = std::make_unique<Linear>(weights, "classifier", c_p, config_.classes);
  register_child(*classifier_);
  parameter_count_ = weights.num_parameters() - before - auxiliary_parameter_count_;
}

void AugmentNetwork::set_drop_path_prob(double p) {
  AN_CHECK(p >= 0.0 && p < 1.0) << "drop-path probability must be in [0, 1), got " << p;
  drop_path_prob_ = p;
}

AugmentNetwork::Output AugmentNetwork::forward_all(const Variable& x) {
  AN_CHECK(x.dim() == 4 && x.size(1) == config_.input_channels)
      << "augment network expects [N, " << config_.input_channels << ", H, W], got "
      << x.value().describe();
  Output out;
  auto [s0, s1] = stem_->forward_both(x);
  for (size_t i = 0; i < cells_.size(); ++i) {
    Variable s2 = cells_[i]->forward(s0, s1, drop_path_prob_, drop_path_rng_);
    s0 = s1;
    s1 = s2;
    if (static_cast<int64_t>(i) == auxiliary_cell_ && training())
      out.aux_logits = auxiliary_head_->forward(s1);
  }
  out.logits = classifier_->forward(global_avg_pool(s1));
  return out;
}

}  // namespace autonet::darts
