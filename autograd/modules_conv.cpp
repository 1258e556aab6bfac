// Conv2d and DepthwiseConv2d modules.
#include <cmath>

#include "autograd/modules.h"

namespace autonet {

Conv2d::Conv2d(ParameterStore& store, std::string name, int64_t c_in, int64_t c_out,
               int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool with_bias)
    : Module(std::move(name)) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(c_in * kernel * kernel));
  weight = store.add_parameter(child_name("weight"), {c_out, c_in, kernel, kernel},
                               Init::uniform(-bound, bound));
  if (with_bias)
    bias = store.add_parameter(child_name("bias"), {c_out}, Init::uniform(-bound, bound));
  params.stride_h = params.stride_w = stride;
  params.pad_h = params.pad_w = pad;
  params.dilation_h = params.dilation_w = dilation;
}

Variable Conv2d::forward(const Variable& x) { return conv2d(x, weight, bias, params); }

DepthwiseConv2d::DepthwiseConv2d(ParameterStore& store, std::string name, int64_t channels,
                                 int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                 bool relu_input)
    : Module(std::move(name)) {
  // PyTorch 0.3 counts all input channels in the fan-in, groups or not.
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels * kernel * kernel));
  weight = store.add_parameter(child_name("weight"), {channels, 1, kernel, kernel},
                               Init::uniform(-bound, bound));
  params.stride = stride;
  params.pad_h = params.pad_w = pad;
  params.dilation = dilation;
  params.relu_input = relu_input;
}

Variable DepthwiseConv2d::forward(const Variable& x) { return depthwise_conv2d(x, weight, params); }

}  // namespace autonet
