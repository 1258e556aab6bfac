// The pieces by which the ImageNet network (NetworkImageNet of the official model.py, reference
// darts.md §5.6) differs from the CIFAR one; AugmentNetwork assembles them when
// AugmentConfig::imagenet is set, and the search network takes the stem (the official ImageNet
// search's, model_search_imagenet.py of PC-DARTS, at stem_multiplier · C) with
// SearchConfig::imagenet_stem.
//   stem0: conv 3×3 stride 2 (3 → C/2), BN, ReLU, conv 3×3 stride 2 (C/2 → C), BN   (÷4)
//   stem1: ReLU, conv 3×3 stride 2 (C → C), BN                                       (÷8)
//   cells as CIFAR's, the first one taking stem0's output as from a reduction (FactorizedReduce)
//   auxiliary head after cell ⌊2L/3⌋: ReLU, avg pool 5 stride 2 (7×7 → 2×2), conv 1×1 → 128,
//     BN, ReLU, conv 2×2 → 768, ReLU (the official code leaves out the BN here, as its paper's
//     experiments did), Linear(768 → classes)
//   head: global average pool (the official AvgPool2d(7) on 224×224 inputs' 7×7 maps), Linear.
// Parameter names are the official ones: stem0.0.weight, stem0.1.weight, ..., stem1.1.weight,
// auxiliary_head.features.2.weight, auxiliary_head.features.5.weight, ...
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "autograd/modules.h"

namespace autonet::darts {

// The stem of a DARTS network, search or augment: CIFAR's conv 3×3 → BN at the input's size
// (`stem.0`, `stem.1`; the first cell's s0 = s1), or ImageNet's stem0 and stem1 above (s0 at
// 1/4, s1 at 1/8 of the input).
class NetworkStem : public Module {
 public:
  // Registers stem.* or stem0.* and stem1.* (its own name is empty: the names are the network's).
  NetworkStem(ParameterStore& store, int64_t input_channels, int64_t channels, bool imagenet);
  // (s0, s1): the first cell's inputs.
  std::pair<Variable, Variable> forward_both(const Variable& x);
  Variable forward(const Variable& x) override { return forward_both(x).second; }
  // ImageNet's s0 is twice s1's size: the first cell takes it as from a reduction cell.
  bool imagenet() const { return imagenet_; }

 private:
  bool imagenet_;
  Sequential cifar_, stem0_, stem1_;  // the unused ones stay empty
};

class AuxiliaryHeadImageNet : public Module {
 public:
  AuxiliaryHeadImageNet(ParameterStore& store, std::string name, int64_t channels,
                        int64_t classes);
  Variable forward(const Variable& x) override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  Linear classifier_;
};

// The choice of train's --network and search's --stem: auto, cifar or imagenet. Whether images
// of this height get the ImageNet stems: when asked for, or with auto from 128 pixels on (the
// CIFAR stem keeps the full size, which at 224×224 no search or training can afford).
bool uses_imagenet_stem(const std::string& choice, int64_t image_height);
// Throws naming `flag` unless `choice` is auto, cifar or imagenet.
void check_stem_choice(const std::string& flag, const std::string& choice);

// Whether the ImageNet head fits maps of this size at cell ⌊2L/3⌋: pooled 5×5 stride 2 to
// 2×2, which needs 7 or 8 (224×224 images give 7).
bool imagenet_auxiliary_fits(int64_t map_size);

}  // namespace autonet::darts
