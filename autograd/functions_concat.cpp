// Concatenation along an axis, strided spatial slicing and PC-DARTS's channel shuffle.
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable concat(const std::vector<Variable>& xs, int64_t axis) {
  AN_CHECK(!xs.empty()) << "concat of no inputs";
  const int64_t dims = xs[0].dim();
  const int64_t a = axis < 0 ? axis + dims : axis;
  AN_CHECK(a >= 0 && a < dims) << "concat axis " << axis << " out of range for "
                               << xs[0].value().describe();
  std::vector<Tensor> values;
  std::vector<TensorSpec> specs;
  Shape out_shape = xs[0].shape();
  out_shape[a] = 0;
  for (const Variable& x : xs) {
    AN_CHECK(x.dim() == dims) << "concat: " << x.value().describe() << " and "
                              << xs[0].value().describe() << " differ in rank";
    values.push_back(x.value());
    specs.push_back(TensorSpec::of(x.value()));
    out_shape[a] += x.size(a);
  }
  Tensor y = empty_as(out_shape, values[0]);
  concat_forward(values, a, y);
  return make_result("concat", y, xs, [specs, a](const Tensor& dy, const SlotList& in) {
    std::vector<GradTarget> targets;
    targets.reserve(in.size());
    std::vector<Tensor> dxs;
    for (size_t i = 0; i < in.size(); ++i) {
      targets.emplace_back(*in[i], specs[i]);
      dxs.push_back(targets.back().tensor);
    }
    concat_backward(dy, a, dxs);
    for (GradTarget& t : targets) t.finish();
  });
}

Variable slice2d(const Variable& x, const Slice2dParams& p) {
  AN_CHECK(x.dim() == 4) << "slice2d expects [N, C, H, W], got " << x.value().describe();
  Tensor y = empty_as({x.size(0), x.size(1), p.out_h, p.out_w}, x.value());
  slice2d_forward(x.value(), y, p);
  const TensorSpec x_spec = TensorSpec::of(x.value());
  // A copy: a consumer that needs it in backward rebuilds it from x (itself rebuilt if x's
  // producer can), as FactorizedReduce's second convolution does from its ReLU's input.
  const SavedValue saved_x(x);
  const Shape y_shape = y.shape();
  return make_result(
      "slice2d", y, {x},
      [=](const Tensor& dy, const SlotList& in) {
        mode_grad(*in[0], x_spec,
                  [&](Tensor& dx, GradMode mode) { slice2d_backward(dy, dx, p, mode); });
      },
      [saved_x, y_shape, p] {
        const Tensor xv = saved_x.get();
        Tensor again = empty_as(y_shape, xv);
        slice2d_forward(xv, again, p);
        return again;
      });
}

Variable channel_shuffle(const Variable& head, const Variable& tail, int64_t groups) {
  AN_CHECK(head.dim() == 4 && tail.dim() == 4)
      << "channel_shuffle expects [N, C, H, W] parts, got " << head.value().describe() << " and "
      << tail.value().describe();
  Tensor y = empty_as({head.size(0), head.size(1) + tail.size(1), head.size(2), head.size(3)},
                      head.value());
  channel_shuffle_forward(head.value(), tail.value(), groups, y);
  const TensorSpec head_spec = TensorSpec::of(head.value()), tail_spec = TensorSpec::of(tail.value());
  return make_result("channel_shuffle", y, {head, tail},
                     [=](const Tensor& dy, const SlotList& in) {
                       GradTarget dhead(*in[0], head_spec), dtail(*in[1], tail_spec);
                       channel_shuffle_backward(dy, groups, dhead.tensor, dtail.tensor);
                       dhead.finish();
                       dtail.finish();
                     });
}

}  // namespace autonet
