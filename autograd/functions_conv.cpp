// Dense and depthwise 2-D convolutions.
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dParams& p) {
  Tensor y = empty_as(conv2d_out_shape(x.shape(), weight.shape(), p), x.value());
  const Tensor b = bias.defined() ? bias.value() : Tensor();
  conv2d_forward(x.value(), weight.value(), b, y, p);
  const Tensor xv = x.value(), wv = weight.value();
  const TensorSpec b_spec = bias.defined() ? TensorSpec::of(b) : TensorSpec{};
  return make_result("conv2d", y, {x, weight, bias}, [=](const Tensor& dy, const SlotList& in) {
    Tensor dw = accumulate_target(*in[1], TensorSpec::of(wv));
    Tensor db = accumulate_target(*in[2], b_spec);
    GradTarget dx(*in[0], TensorSpec::of(xv));
    conv2d_backward(xv, wv, dy, dx.tensor, dw, db, p);
    dx.finish();
  });
}

Variable depthwise_conv2d(const Variable& x, const Variable& weight,
                          const DepthwiseConv2dParams& p) {
  Tensor y = empty_as(depthwise_conv2d_out_shape(x.shape(), weight.shape(), p), x.value());
  depthwise_conv2d_forward(x.value(), weight.value(), y, p);
  const Tensor xv = x.value(), wv = weight.value();
  return make_result("depthwise_conv2d", y, {x, weight},
                     [=](const Tensor& dy, const SlotList& in) {
                       Tensor dw = accumulate_target(*in[1], TensorSpec::of(wv));
                       GradTarget dx(*in[0], TensorSpec::of(xv), /*can_accumulate=*/true);
                       depthwise_conv2d_backward(xv, wv, dy, dx.tensor, dw, p, dx.mode);
                       dx.finish();
                     });
}

}  // namespace autonet
