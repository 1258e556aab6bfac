// Public entries of the depthwise_conv2d family: validate once, then dispatch to a twin.
#include "kernels/depthwise_conv2d.h"

#include "kernels/op_cost.h"

#include <limits>

namespace autonet {

namespace {
void check_params(const DepthwiseConv2dParams& p, const char* what) {
  AN_CHECK(p.stride >= 1) << what << ": stride must be at least 1, got " << p.stride;
  AN_CHECK(p.dilation >= 1) << what << ": dilation must be at least 1, got " << p.dilation;
  AN_CHECK(p.pad_h >= 0 && p.pad_w >= 0)
      << what << ": padding must be non-negative, got " << p.pad_h << "×" << p.pad_w;
}

// x [N, C, H, W] and w [C, 1, R, S]; returns y's shape.
Shape check_inputs(const Tensor& x, const Tensor& w, const DepthwiseConv2dParams& p,
                   const char* what_x, const char* what_w) {
  check_float_tensor(x, 4, what_x);
  AN_CHECK(x.size(2) * x.size(3) <= std::numeric_limits<int>::max())
      << what_x << ": image plane too large for the kernels' int coordinates: " << x.describe();
  check_matches(w, x, what_w);
  return depthwise_conv2d_out_shape(x.shape(), w.shape(), p);
}
}  // namespace

Shape depthwise_conv2d_out_shape(const Shape& x, const Shape& weight,
                                 const DepthwiseConv2dParams& p) {
  AN_CHECK(x.size() == 4) << "depthwise_conv2d: expected an NCHW input shape, got " << shape_str(x);
  AN_CHECK(weight.size() == 4 && weight[0] == x[1] && weight[1] == 1 && weight[2] >= 1 &&
           weight[3] >= 1)
      << "depthwise_conv2d: expected weight [" << x[1] << ", 1, R, S] for input " << shape_str(x)
      << ", got " << shape_str(weight);
  check_params(p, "depthwise_conv2d");
  const int64_t span_h = p.dilation * (weight[2] - 1) + 1, span_w = p.dilation * (weight[3] - 1) + 1;
  AN_CHECK(x[2] + 2 * p.pad_h >= span_h && x[3] + 2 * p.pad_w >= span_w)
      << "depthwise_conv2d: dilated kernel " << span_h << "×" << span_w
      << " larger than the padded input " << shape_str(x);
  return {x[0], x[1], (x[2] + 2 * p.pad_h - span_h) / p.stride + 1,
          (x[3] + 2 * p.pad_w - span_w) / p.stride + 1};
}

void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p) {
  const Shape out =
      check_inputs(x, w, p, "depthwise_conv2d_forward: x", "depthwise_conv2d_forward: w");
  check_matches(y, x, out, "depthwise_conv2d_forward: y");
  count_op("depthwise_conv2d_forward", [&] {
    if (y.numel() == 0) return OpCost{};
    return launch(bytes_of(x, w), bytes_of(y), 2 * w.size(2) * w.size(3) * y.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::depthwise_conv2d_forward(x, w, y, p),
               cuda::depthwise_conv2d_forward(x, w, y, p));
}

void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p, GradMode dx_mode) {
  const Shape out =
      check_inputs(x, w, p, "depthwise_conv2d_backward: x", "depthwise_conv2d_backward: w");
  check_matches(dy, x, out, "depthwise_conv2d_backward: dy");
  check_matches_if_defined(dx, x, x.shape(), "depthwise_conv2d_backward: dx");
  check_matches_if_defined(dw, x, w.shape(), "depthwise_conv2d_backward: dw");
  if (!dx.defined() && !dw.defined()) return;
  // One dx kernel (reading x only for the folded ReLU's mask, dx itself when accumulating); one dw
  // kernel (a cluster of blocks per channel whose sums meet in distributed shared memory).
  count_op("depthwise_conv2d_backward", [&] {
    const int64_t flops = 2 * w.size(2) * w.size(3) * dy.numel();
    OpCost cost;
    if (dx.defined() && dx.numel() > 0) {
      const int64_t read = bytes_of(dy, w) + (p.relu_input ? bytes_of(x) : 0) +
                           (dx_mode == GradMode::Accumulate ? bytes_of(dx) : 0);
      cost += launch(read, bytes_of(dx), flops);
    }
    if (dw.defined() && dw.numel() > 0 && dy.numel() > 0)
      cost += on_side_stream(launch(bytes_of(x, dy, dw), bytes_of(dw), flops));
    return cost;
  });
  AN_ON_DEVICE(x.device(), cpu::depthwise_conv2d_backward(x, w, dy, dx, dw, p, dx_mode),
               cuda::depthwise_conv2d_backward(x, w, dy, dx, dw, p, dx_mode));
}

}  // namespace autonet
