// Batch normalisation (training with batch statistics, eval with running statistics).
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    Tensor running_mean, Tensor running_var, const BatchNormParams& p) {
  AN_CHECK(x.dim() == 2 || x.dim() == 4)
      << "batch_norm expects [N, C] or [N, C, H, W], got " << x.value().describe();
  AN_CHECK(weight.defined() == bias.defined())
      << "batch_norm: weight and bias are both given (affine) or both absent";
  const int64_t channels = x.size(1);
  Tensor y = empty_like(x.value());
  Tensor save_mean = empty_as({channels}, x.value()), save_invstd = empty_as({channels}, x.value());
  const Tensor w = weight.defined() ? weight.value() : Tensor();
  const Tensor b = bias.defined() ? bias.value() : Tensor();
  batch_norm_forward(x.value(), w, b, running_mean, running_var, y, save_mean, save_invstd, p);
  // Affine-free: backward reads x̂ from the output (which the next op keeps anyway), so the input
  // is not kept alive for it.
  BatchNormParams backward_params = p;
  backward_params.backward_from_output = !weight.defined();
  const Tensor saved = backward_params.backward_from_output ? y : x.value();
  const TensorSpec x_spec = TensorSpec::of(x.value());
  const TensorSpec w_spec = weight.defined() ? TensorSpec::of(w) : TensorSpec{};
  return make_result("batch_norm", y, {x, weight, bias}, [=](const Tensor& dy,
                                                             const SlotList& in) {
    Tensor dweight = accumulate_target(*in[1], w_spec);
    Tensor dbias = accumulate_target(*in[2], w_spec);
    GradTarget dx(*in[0], x_spec);
    batch_norm_backward(saved, w, save_mean, save_invstd, dy, dx.tensor, dweight, dbias,
                        backward_params);
    dx.finish();
  });
}

}  // namespace autonet
