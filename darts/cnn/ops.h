// The CNN candidate operations of DARTS (reference darts.md §1) as autograd modules; the table of
// primitives (darts/primitives.h) names them and builds them.
//
// Every op maps C → C channels with stride 1 or 2 and registers its parameters under the names the
// official PyTorch modules give them (`<op>.op.1.weight` for a SepConv's first depthwise conv,
// `<op>.conv_1.weight` for a FactorizedReduce, `<op>.1.running_mean` for the search net's
// pool → BN). A ReLU directly in front of a depthwise conv is folded into that conv
// (relu_input); the ReLU still owns its index in the names, as in the official Sequentials.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/modules.h"

namespace autonet::darts {

// `none`: zeros of the op's output shape (x[:, :, ::2, ::2]·0 at stride 2), no gradient path.
class Zero : public Module {
 public:
  Zero(std::string name, int64_t stride) : Module(std::move(name)), stride_(stride) {}
  Variable forward(const Variable& x) override;

 private:
  int64_t stride_;
};

// Stride-1 `skip_connect`: the input itself. Drop path never applies to it (§5.1).
class Identity : public Module {
 public:
  using Module::Module;
  Variable forward(const Variable& x) override { return x; }
};

// A candidate op whose last layer is a batch norm. The search cell's mixed op runs it up to that
// BN and folds the BN into its weighted sum (bn_mixed_sum); forward() is the two in a row.
class EndsInBatchNorm {
 public:
  virtual Variable forward_to_batch_norm(const Variable& x) = 0;  // everything before the BN
  virtual BatchNorm2d& last_batch_norm() = 0;

 protected:
  ~EndsInBatchNorm() = default;
};

// One layer of a candidate op after its first stencil: what the search cell runs as one group op
// across the candidates of a state (darts/cnn/state_pipeline.h).
struct OpStage {
  // `alone`: a layer with no group op of its kind, run by itself between grouped ones.
  enum class Kind { pointwise, batch_norm, depthwise, alone };
  Kind kind = Kind::pointwise;
  Variable weight;                  // pointwise [C_out, C, 1, 1], depthwise [C, 1, R, S]
  DepthwiseConv2dParams depthwise;  // Kind::depthwise
  // Kind::batch_norm: the BN; Kind::depthwise: an affine-free BN before the conv, folded into it.
  BatchNorm2d* norm = nullptr;
  bool relu_input = false;          // Kind::pointwise: a ReLU before the conv, folded into it
  std::function<Variable(const Variable&)> run;  // Kind::alone
  static OpStage pointwise_conv(const Conv2d& conv, bool relu_input = false) {
    return {Kind::pointwise, conv.weight, {}, nullptr, relu_input, {}};
  }
  static OpStage batch_norm(BatchNorm2d& bn) { return {Kind::batch_norm, {}, {}, &bn, false, {}}; }
  static OpStage depthwise_conv(const DepthwiseConv2d& conv, BatchNorm2d* norm_before = nullptr) {
    return {Kind::depthwise, conv.weight, conv.params, norm_before, false, {}};
  }
  static OpStage by_itself(std::function<Variable(const Variable&)> run) {
    return {Kind::alone, {}, {}, nullptr, false, std::move(run)};
  }
  // Whether the layer before is folded into this one's loads (a group folds into all or none).
  bool folds_input() const {
    return kind == Kind::pointwise ? relu_input : kind == Kind::depthwise && norm != nullptr;
  }
  // Whether this layer starts with a batch norm of its input (which the layer before can serve
  // with channel moments formed on the way out).
  bool normalizes_input() const {
    return kind == Kind::batch_norm || (kind == Kind::depthwise && norm != nullptr);
  }
};

// A candidate op whose first layer is a stencil on its input (a depthwise conv, its ReLU folded
// in, or a pool) and whose later layers, up to its closing BN, are stages: a search cell runs the
// candidates of all edges leaving a state layer by layer, each layer as one group op.
class StartsWithStencil {
 public:
  virtual Stencil first_stencil() const = 0;
  virtual Variable first_stencil_weight() const = 0;  // undefined for a pool
  // The layers after the first stencil, in order, stopping before the closing BN (the op's output
  // is then EndsInBatchNorm::forward_to_batch_norm's).
  virtual std::vector<OpStage> later_stages() = 0;

 protected:
  ~StartsWithStencil() = default;
};

// 3×3 max or average pool, padding 1; average divides by the real (non-padding) pixels.
class Pool3x3 : public Module {
 public:
  Pool3x3(std::string name, PoolMode mode, int64_t stride);
  Variable forward(const Variable& x) override { return pool2d(x, params_); }
  const Pool2dParams& params() const { return params_; }

 private:
  Pool2dParams params_;
};

// The search network's pooling candidate: nn.Sequential(pool, BatchNorm2d(C, affine=False)),
// so the BN buffers are `<op>.1.running_mean` / `<op>.1.running_var`.
class PoolBN : public Module, public EndsInBatchNorm, public StartsWithStencil {
 public:
  PoolBN(ParameterStore& store, std::string name, PoolMode mode, int64_t channels, int64_t stride,
         bool affine);
  Variable forward(const Variable& x) override { return bn_.forward(pool_.forward(x)); }
  Variable forward_to_batch_norm(const Variable& x) override { return pool_.forward(x); }
  BatchNorm2d& last_batch_norm() override { return bn_; }
  Stencil first_stencil() const override { return Stencil::pooling(pool_.params()); }
  Variable first_stencil_weight() const override { return {}; }
  std::vector<OpStage> later_stages() override { return {}; }

 private:
  Pool3x3 pool_;
  BatchNorm2d bn_;
};

// ReLU → conv k×k C_in→C_out (no bias) → BN: `op.1.weight`, `op.2.*`.
class ReLUConvBN : public Module {
 public:
  ReLUConvBN(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out, int64_t kernel,
             int64_t stride, int64_t pad, bool affine);
  Variable forward(const Variable& x) override;
  // Its layers as stages (the 1×1 conv with the ReLU folded in, the BN), when they can run in
  // groups: a 1×1 stride-1 conv and an affine-free BN, as in the search network's preprocessing;
  // else empty.
  std::vector<OpStage> stages();

 private:
  Conv2d conv_;
  BatchNorm2d bn_;
};

// ReLU → two 1×1 stride-2 convs C_in→C_out/2 on x and on x[:, :, 1:, 1:] → concat → BN.
// Names `conv_1.weight`, `conv_2.weight`, `bn.*`. Needs even H and W (both halves H/2).
// Up to the BN it runs as one op (autograd factorized_reduce).
class FactorizedReduce : public Module, public EndsInBatchNorm {
 public:
  FactorizedReduce(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out,
                   bool affine);
  Variable forward(const Variable& x) override { return bn_.forward(forward_to_batch_norm(x)); }
  Variable forward_to_batch_norm(const Variable& x) override;
  BatchNorm2d& last_batch_norm() override { return bn_; }
  // As ReLUConvBN::stages: the op up to its BN by itself, then the BN, when the BN is affine-free.
  std::vector<OpStage> stages();

 private:
  Conv2d conv_1_, conv_2_;
  BatchNorm2d bn_;
};

// Separable conv applied twice; only the first depthwise conv carries the stride. Official
// Sequential: 0 ReLU, 1 dw, 2 pw, 3 BN, 4 ReLU, 5 dw, 6 pw, 7 BN (ReLUs folded into 1 and 5).
class SepConv : public Module, public EndsInBatchNorm, public StartsWithStencil {
 public:
  SepConv(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out, int64_t kernel,
          int64_t stride, int64_t pad, bool affine);
  Variable forward(const Variable& x) override { return bn2_.forward(forward_to_batch_norm(x)); }
  Variable forward_to_batch_norm(const Variable& x) override;
  BatchNorm2d& last_batch_norm() override { return bn2_; }
  Stencil first_stencil() const override { return Stencil::depthwise(dw1_.params); }
  Variable first_stencil_weight() const override { return dw1_.weight; }
  std::vector<OpStage> later_stages() override;

 private:
  DepthwiseConv2d dw1_;
  Conv2d pw1_;
  BatchNorm2d bn1_;
  DepthwiseConv2d dw2_;
  Conv2d pw2_;
  BatchNorm2d bn2_;
};

// ReLU → dilated depthwise conv → pointwise conv → BN: `op.1`, `op.2`, `op.3` (ReLU folded into 1).
class DilConv : public Module, public EndsInBatchNorm, public StartsWithStencil {
 public:
  DilConv(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out, int64_t kernel,
          int64_t stride, int64_t pad, int64_t dilation, bool affine);
  Variable forward(const Variable& x) override { return bn_.forward(forward_to_batch_norm(x)); }
  Variable forward_to_batch_norm(const Variable& x) override { return pw_.forward(dw_.forward(x)); }
  BatchNorm2d& last_batch_norm() override { return bn_; }
  Stencil first_stencil() const override { return Stencil::depthwise(dw_.params); }
  Variable first_stencil_weight() const override { return dw_.weight; }
  std::vector<OpStage> later_stages() override { return {OpStage::pointwise_conv(pw_)}; }

 private:
  DepthwiseConv2d dw_;
  Conv2d pw_;
  BatchNorm2d bn_;
};

// Baseline genotypes only: nn.Sequential(ReLU, conv 1×7 stride (1,s) pad (0,3),
// conv 7×1 stride (s,1) pad (3,0), BN) → `<op>.1.weight`, `<op>.2.weight`, `<op>.3.*`.
class Conv7x1_1x7 : public Module {
 public:
  Conv7x1_1x7(ParameterStore& store, std::string name, int64_t channels, int64_t stride,
              bool affine);
  Variable forward(const Variable& x) override;

 private:
  Variable weight_1x7_, weight_7x1_;
  Conv2dParams p_1x7_, p_7x1_;
  std::unique_ptr<BatchNorm2d> bn_;  // created after the convs, as in the official order
};

// Where an op is built: the search network (affine=False BNs, BN after pools) or the derived
// (augment) network (affine=True BNs, bare pools).
enum class OpContext { search, augment };

bool is_identity(const Module& op);
bool is_zero(const Module& op);

}  // namespace autonet::darts
