// A small CNN in the DARTS style for the module and training tests: a stem conv + BN, two
// separable-conv cells (ReLU folded into a depthwise 3×3, pointwise 1×1, BN), pooling, a
// classifier. Names follow PyTorch's module tree: stem.0.weight, cells.1.op.2.weight, ...
#pragma once
#include "autograd/modules.h"

namespace autonet::test {

class SepConvCell : public Module {
 public:
  SepConvCell(ParameterStore& store, std::string name, int64_t channels, int64_t stride)
      : Module(std::move(name)),
        depthwise(store, child_name("op.1"), channels, 3, stride, 1, 1, /*relu_input=*/true),
        pointwise(store, child_name("op.2"), channels, channels, 1),
        bn(store, child_name("op.3"), channels) {
    register_child(depthwise);
    register_child(pointwise);
    register_child(bn);
  }
  Variable forward(const Variable& x) override { return bn(pointwise(depthwise(x))); }

  DepthwiseConv2d depthwise;
  Conv2d pointwise;
  BatchNorm2d bn;
};

class SmallCnn : public Module {
 public:
  SmallCnn(ParameterStore& store, int64_t c_in, int64_t channels, int64_t classes)
      : Module(""),
        stem("stem",
             [&](Sequential& s) {
               s.append(std::make_unique<Conv2d>(store, s.next_name(), c_in, channels, 3, 1, 1));
               s.append(std::make_unique<BatchNorm2d>(store, s.next_name(), channels));
             }),
        cell0(store, "cells.0", channels, 1),
        cell1(store, "cells.1", channels, 2),
        classifier(store, "classifier", channels, classes) {
    register_child(stem);
    register_child(cell0);
    register_child(cell1);
    register_child(classifier);
  }
  Variable forward(const Variable& x) override {
    Variable h = cell1(cell0(stem(x)));
    h = max_pool2d(h, 3, 1, 1);
    return classifier(global_avg_pool(h));
  }

  Sequential stem;
  SepConvCell cell0, cell1;
  Linear classifier;
};

}  // namespace autonet::test
