// nn modules. A module registers its parameters in a ParameterStore when it is constructed, under
// its full dotted name (`stem.0` → `stem.0.weight`), so parameter names and order follow the
// construction of the model exactly like PyTorch's module tree. Children are kept in an ordered
// vector; train()/eval() walk it.
//
// Initialisation follows PyTorch 0.3 (reference/darts.md §0): conv weights (and biases)
// uniform ±1/sqrt(C_in·k·k) with the full input-channel count even for depthwise convs; Linear
// uniform ±1/sqrt(in); affine BN scale uniform(0, 1), shift 0. Random draws come from the store's
// seed, so a model is reproducible from it.
//
// Modules are neither copyable nor movable (parents point at their children); hold them as
// members or through unique_ptr.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/parameters.h"
#include "runtime/philox.h"

namespace autonet {

class Module {
 public:
  explicit Module(std::string name) : name_(std::move(name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Single-input modules override this; multi-input ones (DARTS cells) define their own calls.
  virtual Variable forward(const Variable& x);
  Variable operator()(const Variable& x) { return forward(x); }

  void train(bool on = true);  // this module and every descendant
  void eval() { train(false); }
  bool training() const { return training_; }

  const std::string& name() const { return name_; }
  // The full name of a child called `local`: "cells.3" + "_ops" → "cells.3._ops".
  std::string child_name(const std::string& local) const;
  const std::vector<Module*>& children() const { return children_; }

 protected:
  // Children must outlive nothing but their parent: members declared before use, or owned.
  void register_child(Module& child) { children_.push_back(&child); }

 private:
  std::string name_;
  bool training_ = true;
  std::vector<Module*> children_;
};

// Children named "0", "1", ... in order, like torch.nn.Sequential.
class Sequential : public Module {
 public:
  using Module::Module;
  // Builds the layers right away, so a member Sequential registers its parameters in member order:
  //   stem(store_name, [&](Sequential& s) { s.append(std::make_unique<Conv2d>(...)); ... })
  Sequential(std::string name, const std::function<void(Sequential&)>& build)
      : Module(std::move(name)) {
    build(*this);
  }
  std::string next_name() const { return child_name(std::to_string(layers_.size())); }
  // seq.append(std::make_unique<Conv2d>(store, seq.next_name(), ...)).
  template <class M>
  M& append(std::unique_ptr<M> layer) {
    M& ref = *layer;
    register_child(ref);
    layers_.push_back(std::move(layer));
    return ref;
  }
  Variable forward(const Variable& x) override;
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) const { return *layers_.at(i); }

 private:
  std::vector<std::unique_ptr<Module>> layers_;
};

class ReLU : public Module {
 public:
  using Module::Module;
  Variable forward(const Variable& x) override { return relu(x); }
};

// weight [C_out, C_in, k, k], bias [C_out] when asked (DARTS convs have none).
class Conv2d : public Module {
 public:
  Conv2d(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out, int64_t kernel,
         int64_t stride = 1, int64_t pad = 0, int64_t dilation = 1, bool bias = false);
  Variable forward(const Variable& x) override;
  Variable weight, bias;
  Conv2dParams params;
};

// weight [C, 1, k, k]; relu_input folds a preceding ReLU into the convolution.
class DepthwiseConv2d : public Module {
 public:
  DepthwiseConv2d(ParameterStore& store, std::string name, int64_t channels, int64_t kernel,
                  int64_t stride = 1, int64_t pad = 0, int64_t dilation = 1,
                  bool relu_input = false);
  Variable forward(const Variable& x) override;
  Variable weight;
  DepthwiseConv2dParams params;
};

// Training normalises with the batch statistics and updates running_mean/var (buffers); eval
// uses the running statistics. affine = false: no weight/bias (DARTS' search network).
class BatchNorm : public Module {
 public:
  BatchNorm(ParameterStore& store, std::string name, int64_t channels, bool affine,
            int64_t input_dim, double momentum, double eps);
  Variable forward(const Variable& x) override;
  // Its mode, momentum and eps as the kernels take them (for ops that fold this BN in).
  BatchNormParams params() const;
  Variable weight, bias;             // [C] or undefined
  Variable running_mean, running_var;  // buffers [C]
  double momentum, eps;

 private:
  int64_t input_dim_;
};

class BatchNorm2d : public BatchNorm {  // x [N, C, H, W]
 public:
  BatchNorm2d(ParameterStore& store, std::string name, int64_t channels, bool affine = true,
              double momentum = 0.1, double eps = 1e-5)
      : BatchNorm(store, std::move(name), channels, affine, 4, momentum, eps) {}
};

class BatchNorm1d : public BatchNorm {  // x [N, C]
 public:
  BatchNorm1d(ParameterStore& store, std::string name, int64_t channels, bool affine = true,
              double momentum = 0.1, double eps = 1e-5)
      : BatchNorm(store, std::move(name), channels, affine, 2, momentum, eps) {}
};

// y = x · weightᵀ + bias; weight [out, in], bias [out].
class Linear : public Module {
 public:
  Linear(ParameterStore& store, std::string name, int64_t in_features, int64_t out_features,
         bool bias = true);
  Variable forward(const Variable& x) override;
  Variable weight, bias;
};

// weight [num, dim]; PyTorch's default init N(0, 1) unless given.
class Embedding : public Module {
 public:
  Embedding(ParameterStore& store, std::string name, int64_t num, int64_t dim,
            const Init& init = Init::normal(0.0, 1.0));
  Variable lookup(const Tensor& ids) const { return embedding(weight, ids); }
  Variable weight;
};

// Identity in eval or when p = 0; in training each call draws a fresh Philox key from its own
// stream, so the masks of a run are reproducible from (seed, stream).
class Dropout : public Module {
 public:
  Dropout(std::string name, double p, uint64_t seed, uint32_t stream)
      : Module(std::move(name)), p(p), generator(seed, stream) {}
  Variable forward(const Variable& x) override;
  double p;
  PhiloxGenerator generator;
};

}  // namespace autonet
