// Concatenation along an axis, strided spatial slicing and PC-DARTS's channel shuffle.
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

namespace {

// concat's node: y = concat(values) along axis a, each input's gradient its part of dy, added in
// place into a gradient already there (concat_backward's Accumulate). `part_shapes`: the shape
// each part has in the concatenation (the input's own, or a view of it, as stack's [1, S...]).
Variable concat_node(const char* op, const std::vector<Variable>& xs,
                     const std::vector<Shape>& part_shapes, int64_t a) {
  std::vector<Tensor> parts;
  std::vector<TensorSpec> specs;
  Shape out_shape = part_shapes[0];
  out_shape[a] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    parts.push_back(as_part(xs[k].value(), part_shapes[k]));
    specs.push_back(TensorSpec::of(xs[k].value()));
    out_shape[a] += part_shapes[k][a];
  }
  Tensor y = empty_as(out_shape, parts[0]);
  concat_forward(parts, a, y);
  return make_result(op, y, xs, [specs, part_shapes, a](const Tensor& dy, const SlotList& in) {
    parts_grad(in, specs, part_shapes,
               [&](std::vector<Tensor>& dxs, const std::vector<GradMode>& modes) {
                 concat_backward(dy, a, dxs, modes);
               });
  });
}
}  // namespace

Variable concat(const std::vector<Variable>& xs, int64_t axis) {
  AN_CHECK(!xs.empty()) << "concat of no inputs";
  const int64_t dims = xs[0].dim();
  const int64_t a = axis < 0 ? axis + dims : axis;
  AN_CHECK(a >= 0 && a < dims) << "concat axis " << axis << " out of range for "
                               << xs[0].value().describe();
  std::vector<Shape> shapes;
  for (const Variable& x : xs) {
    AN_CHECK(x.dim() == dims) << "concat: " << x.value().describe() << " and "
                              << xs[0].value().describe() << " differ in rank";
    shapes.push_back(x.shape());
  }
  return concat_node("concat", xs, shapes, a);
}

Variable stack(const std::vector<Variable>& xs) {
  AN_CHECK(!xs.empty()) << "stack of no inputs";
  Shape part{1};
  part.insert(part.end(), xs[0].shape().begin(), xs[0].shape().end());
  for (const Variable& x : xs)
    AN_CHECK(x.shape() == xs[0].shape()) << "stack: " << x.value().describe() << " and "
                                          << xs[0].value().describe() << " differ in shape";
  return concat_node("stack", xs, std::vector<Shape>(xs.size(), part), 0);
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
