// The CNN candidate operations (reference darts.md §1.1–§1.2).
#include "darts/cnn/ops.h"

#include <cmath>

#include "runtime/error.h"

namespace autonet::darts {

Variable Zero::forward(const Variable& x) {
  AN_CHECK(x.dim() == 4) << "'" << name() << "' (none) expects [N, C, H, W], got "
                         << x.value().describe();
  // x[:, :, ::s, ::s] keeps ceil(H/s) rows and ceil(W/s) columns.
  const Shape shape{x.size(0), x.size(1), (x.size(2) + stride_ - 1) / stride_,
                    (x.size(3) + stride_ - 1) / stride_};
  return zeros(shape, x.dtype(), x.device());
}

Pool3x3::Pool3x3(std::string name, PoolMode mode, int64_t stride) : Module(std::move(name)) {
  params_.mode = mode;
  params_.kernel_h = params_.kernel_w = 3;
  params_.stride_h = params_.stride_w = stride;
  params_.pad_h = params_.pad_w = 1;
  params_.count_include_pad = false;
}

PoolBN::PoolBN(ParameterStore& store, std::string name, PoolMode mode, int64_t channels,
               int64_t stride, bool affine)
    : Module(std::move(name)),
      pool_(child_name("0"), mode, stride),
      bn_(store, child_name("1"), channels, affine) {
  register_child(pool_);
  register_child(bn_);
}

ReLUConvBN::ReLUConvBN(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out,
                       int64_t kernel, int64_t stride, int64_t pad, bool affine)
    : Module(std::move(name)),
      conv_(store, child_name("op.1"), c_in, c_out, kernel, stride, pad),
      bn_(store, child_name("op.2"), c_out, affine) {
  register_child(conv_);
  register_child(bn_);
}

Variable ReLUConvBN::forward(const Variable& x) { return bn_.forward(conv_.forward(relu(x))); }

std::vector<OpStage> ReLUConvBN::stages() {
  const Conv2dParams& p = conv_.params;
  const bool pointwise = conv_.weight.size(2) == 1 && conv_.weight.size(3) == 1 &&
                         p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0 &&
                         !conv_.bias.defined();
  if (!pointwise || bn_.weight.defined()) return {};
  return {OpStage::pointwise_conv(conv_, /*relu_input=*/true), OpStage::batch_norm(bn_)};
}

FactorizedReduce::FactorizedReduce(ParameterStore& store, std::string name, int64_t c_in,
                                   int64_t c_out, bool affine)
    : Module(std::move(name)),
      conv_1_(store, child_name("conv_1"), c_in, c_out / 2, 1, 2),
      conv_2_(store, child_name("conv_2"), c_in, c_out / 2, 1, 2),
      bn_(store, child_name("bn"), c_out, affine) {
  AN_CHECK(c_out % 2 == 0) << "FactorizedReduce '" << this->name()
                           << "' needs an even output channel count, got " << c_out;
  register_child(conv_1_);
  register_child(conv_2_);
  register_child(bn_);
}

std::vector<OpStage> FactorizedReduce::stages() {
  if (bn_.weight.defined()) return {};
  return {OpStage::by_itself([this](const Variable& x) { return forward_to_batch_norm(x); }),
          OpStage::batch_norm(bn_)};
}

Variable FactorizedReduce::forward_to_batch_norm(const Variable& x) {
  AN_CHECK(x.dim() == 4 && x.size(2) % 2 == 0 && x.size(3) % 2 == 0)
      << "FactorizedReduce '" << name() << "' needs even H and W (its two halves must agree), got "
      << x.value().describe();
  // conv_1 on relu(x)[:, :, ::2, ::2], conv_2 on the other phase, relu(x)[:, :, 1::2, 1::2]
  // (PyTorch's stride-2 conv of x[:, :, 1:, 1:]), concatenated: one fused op.
  return factorized_reduce(x, conv_1_.weight, conv_2_.weight);
}

SepConv::SepConv(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out,
                 int64_t kernel, int64_t stride, int64_t pad, bool affine)
    : Module(std::move(name)),
      dw1_(store, child_name("op.1"), c_in, kernel, stride, pad, 1, /*relu_input=*/true),
      pw1_(store, child_name("op.2"), c_in, c_in, 1),
      bn1_(store, child_name("op.3"), c_in, affine),
      dw2_(store, child_name("op.5"), c_in, kernel, 1, pad, 1, /*relu_input=*/true),
      pw2_(store, child_name("op.6"), c_in, c_out, 1),
      bn2_(store, child_name("op.7"), c_out, affine) {
  for (Module* m : std::initializer_list<Module*>{&dw1_, &pw1_, &bn1_, &dw2_, &pw2_, &bn2_})
    register_child(*m);
}

Variable SepConv::forward_to_batch_norm(const Variable& x) {
  return pw2_.forward(dw2_.forward(bn1_.forward(pw1_.forward(dw1_.forward(x)))));
}

std::vector<OpStage> SepConv::later_stages() {
  // The middle BN is folded into the second depthwise conv: its output is never written.
  return {OpStage::pointwise_conv(pw1_), OpStage::depthwise_conv(dw2_, &bn1_),
          OpStage::pointwise_conv(pw2_)};
}

DilConv::DilConv(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out,
                 int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool affine)
    : Module(std::move(name)),
      dw_(store, child_name("op.1"), c_in, kernel, stride, pad, dilation, /*relu_input=*/true),
      pw_(store, child_name("op.2"), c_in, c_out, 1),
      bn_(store, child_name("op.3"), c_out, affine) {
  register_child(dw_);
  register_child(pw_);
  register_child(bn_);
}

Conv7x1_1x7::Conv7x1_1x7(ParameterStore& store, std::string name, int64_t channels, int64_t stride,
                         bool affine)
    : Module(std::move(name)) {
  // PyTorch 0.3 init: uniform ±1/sqrt(C_in·k_h·k_w).
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels * 7));
  weight_1x7_ = store.add_parameter(child_name("1.weight"), {channels, channels, 1, 7},
                                    Init::uniform(-bound, bound));
  weight_7x1_ = store.add_parameter(child_name("2.weight"), {channels, channels, 7, 1},
                                    Init::uniform(-bound, bound));
  p_1x7_.stride_w = stride;
  p_1x7_.pad_w = 3;
  p_7x1_.stride_h = stride;
  p_7x1_.pad_h = 3;
  bn_ = std::make_unique<BatchNorm2d>(store, child_name("3"), channels, affine);
  register_child(*bn_);
}

Variable Conv7x1_1x7::forward(const Variable& x) {
  const Variable h = conv2d(relu(x), weight_1x7_, Variable(), p_1x7_);
  return bn_->forward(conv2d(h, weight_7x1_, Variable(), p_7x1_));
}

bool is_identity(const Module& op) { return dynamic_cast<const Identity*>(&op) != nullptr; }
bool is_zero(const Module& op) { return dynamic_cast<const Zero*>(&op) != nullptr; }

}  // namespace autonet::darts
