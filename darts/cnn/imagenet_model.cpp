#include "darts/cnn/imagenet_model.h"

#include "autograd/functions.h"
#include "runtime/error.h"

namespace autonet::darts {

NetworkStem::NetworkStem(ParameterStore& store, int64_t input_channels, int64_t channels,
                         bool imagenet)
    : Module(""),
      imagenet_(imagenet),
      cifar_("stem",
             [&](Sequential& s) {
               if (imagenet) return;
               s.append(std::make_unique<Conv2d>(store, s.next_name(), input_channels, channels,
                                                 3, 1, 1));
               s.append(std::make_unique<BatchNorm2d>(store, s.next_name(), channels, true));
             }),
      stem0_("stem0",
             [&](Sequential& s) {
               if (!imagenet) return;
               AN_CHECK(channels >= 2 && channels % 2 == 0)
                   << "ImageNet stem: channels must be even (the first conv gives C/2), got "
                   << channels;
               s.append(std::make_unique<Conv2d>(store, s.next_name(), input_channels,
                                                 channels / 2, 3, 2, 1));
               s.append(std::make_unique<BatchNorm2d>(store, s.next_name(), channels / 2, true));
               s.append(std::make_unique<ReLU>(s.next_name()));
               s.append(std::make_unique<Conv2d>(store, s.next_name(), channels / 2, channels, 3,
                                                 2, 1));
               s.append(std::make_unique<BatchNorm2d>(store, s.next_name(), channels, true));
             }),
      stem1_("stem1", [&](Sequential& s) {
        if (!imagenet) return;
        s.append(std::make_unique<ReLU>(s.next_name()));
        s.append(std::make_unique<Conv2d>(store, s.next_name(), channels, channels, 3, 2, 1));
        s.append(std::make_unique<BatchNorm2d>(store, s.next_name(), channels, true));
      }) {
  if (imagenet) {
    register_child(stem0_);
    register_child(stem1_);
  } else {
    register_child(cifar_);
  }
}

std::pair<Variable, Variable> NetworkStem::forward_both(const Variable& x) {
  if (!imagenet_) {
    Variable s = cifar_.forward(x);
    return {s, s};
  }
  Variable s0 = stem0_.forward(x);
  Variable s1 = stem1_.forward(s0);
  return {s0, s1};
}

AuxiliaryHeadImageNet::AuxiliaryHeadImageNet(ParameterStore& store, std::string name,
                                             int64_t channels, int64_t classes)
    : Module(std::move(name)),
      conv1_(store, child_name("features.2"), channels, 128, 1),
      bn1_(store, child_name("features.3"), 128, true),
      conv2_(store, child_name("features.5"), 128, 768, 2),
      classifier_(store, child_name("classifier"), 768, classes) {
  for (Module* m : std::initializer_list<Module*>{&conv1_, &bn1_, &conv2_, &classifier_})
    register_child(*m);
}

bool uses_imagenet_stem(const std::string& choice, int64_t image_height) {
  return choice == "imagenet" || (choice == "auto" && image_height >= 128);
}

void check_stem_choice(const std::string& flag, const std::string& choice) {
  AN_CHECK(choice == "auto" || choice == "cifar" || choice == "imagenet")
      << flag << " must be auto, cifar or imagenet, got '" << choice << "'";
}

bool imagenet_auxiliary_fits(int64_t map_size) { return map_size == 7 || map_size == 8; }

Variable AuxiliaryHeadImageNet::forward(const Variable& x) {
  AN_CHECK(x.dim() == 4 && imagenet_auxiliary_fits(x.size(2)) && imagenet_auxiliary_fits(x.size(3)))
      << "ImageNet auxiliary head '" << name() << "' expects a 7×7 or 8×8 input (→ 2×2 → 1×1), "
      << "got " << x.value().describe();
  Variable h = avg_pool2d(relu(x), 5, 2, 0, false);  // [N, C, 2, 2]
  h = relu(bn1_.forward(conv1_.forward(h)));         // [N, 128, 2, 2]
  h = relu(conv2_.forward(h));                       // [N, 768, 1, 1]
  return classifier_.forward(view(h, {h.size(0), h.size(1)}));
}

}  // namespace autonet::darts
