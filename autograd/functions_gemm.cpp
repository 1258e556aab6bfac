// Matrix product and the linear layer (OpenBLAS / cuBLAS underneath).
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/gemm.h"

namespace autonet {
using namespace detail;

Variable matmul(const Variable& a, const Variable& b) {
  AN_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0))
      << "matmul: " << a.value().describe() << " · " << b.value().describe();
  Tensor c = empty_as({a.size(0), b.size(1)}, a.value());
  gemm(a.value(), b.value(), c);
  // da = dc · bᵀ needs b; db = aᵀ · dc needs a. beta = 1 accumulates into an existing gradient.
  Tensor keep_a = b.requires_grad() ? a.value() : Tensor();
  Tensor keep_b = a.requires_grad() ? b.value() : Tensor();
  const TensorSpec a_spec = TensorSpec::of(a.value()), b_spec = TensorSpec::of(b.value());
  return make_result("matmul", c, {a, b}, [=](const Tensor& dc, const SlotList& in) {
    // dA = dC · Bᵀ, dB = Aᵀ · dC, each written or added (beta 1). A leaf's (a parameter's)
    // gradient runs on the side stream, launched first so the other runs beside it
    // (runtime/side_stream.h): the recurrent cells' weight gradients.
    auto land = [&](GradSlot& slot, bool leaf, const TensorSpec& spec, const Tensor& x,
                    const Tensor& y, bool trans_x, bool trans_y) {
      mode_grad(
          slot, spec,
          [&](Tensor& grad, GradMode mode) {
            const double beta = mode == GradMode::Accumulate ? 1.0 : 0.0;
            gemm(x, y, grad, {trans_x, trans_y, 1.0, beta, leaf});
          },
          leaf ? LandsOn::side_stream : LandsOn::compute_stream);
    };
    const bool a_leaf = !in[0]->producer, b_leaf = !in[1]->producer;
    const bool b_first = b_leaf && !a_leaf;
    if (b_first) land(*in[1], b_leaf, b_spec, keep_a, dc, true, false);
    land(*in[0], a_leaf, a_spec, dc, keep_b, false, true);
    if (!b_first) land(*in[1], b_leaf, b_spec, keep_a, dc, true, false);
  });
}

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  AN_CHECK(x.dim() == 2 && weight.dim() == 2)
      << "linear: x " << x.value().describe() << ", weight " << weight.value().describe();
  Tensor y = empty_as({x.size(0), weight.size(0)}, x.value());
  const Tensor b = bias.defined() ? bias.value() : Tensor();
  linear_forward(x.value(), weight.value(), b, y);
  const Tensor xv = x.value(), wv = weight.value();
  const TensorSpec b_spec = bias.defined() ? TensorSpec::of(b) : TensorSpec{};
  return make_result("linear", y, {x, weight, bias}, [=](const Tensor& dy, const SlotList& in) {
    Tensor dw = accumulate_target(*in[1], TensorSpec::of(wv));
    Tensor db = accumulate_target(*in[2], b_spec);
    GradTarget dx(*in[0], TensorSpec::of(xv));
    linear_backward(xv, wv, dy, dx.tensor, dw, db);
    dx.finish();
  });
}

}  // namespace autonet
