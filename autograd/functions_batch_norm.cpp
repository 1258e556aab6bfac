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

std::vector<Variable> batch_norm_group(const std::vector<Variable>& xs,
                                       std::vector<Tensor> running_means,
                                       std::vector<Tensor> running_vars, const BatchNormParams& p) {
  AN_CHECK(!xs.empty()) << "batch_norm_group of no members";
  AN_CHECK(xs[0].dim() == 2 || xs[0].dim() == 4)
      << "batch_norm_group expects [N, C] or [N, C, H, W] members, got "
      << xs[0].value().describe();
  const int64_t channels = xs[0].size(1);
  if (running_means.empty() && running_vars.empty())  // untracked throughout
    running_means.resize(xs.size()), running_vars.resize(xs.size());
  std::vector<Tensor> x_values, ys, save_means, save_invstds, moments;
  for (const Variable& x : xs) {
    x_values.push_back(x.value());
    moments.push_back(x.channel_moments());  // the producer's, where it formed them
    ys.push_back(empty_like(x.value()));
    save_means.push_back(empty_as({channels}, x.value()));
    save_invstds.push_back(empty_as({channels}, x.value()));
  }
  batch_norm_group_forward(x_values, running_means, running_vars, ys, save_means, save_invstds,
                           p, moments);
  // As batch_norm without affine parameters: backward reads x̂ from the outputs (which the next
  // ops keep anyway), so the inputs are not kept alive for it.
  BatchNormParams backward_params = p;
  backward_params.backward_from_output = true;
  const TensorSpec x_spec = TensorSpec::of(x_values[0]);
  return make_results("batch_norm_group", ys, xs,
                      [=](const std::vector<Tensor>& dys, const SlotList& in) {
                        std::vector<GradTarget> targets;
                        targets.reserve(dys.size());
                        std::vector<Tensor> dxs;
                        for (size_t k = 0; k < dys.size(); ++k) {
                          if (!dys[k].defined()) {  // an output nobody used: no gradient
                            dxs.emplace_back();
                            continue;
                          }
                          targets.emplace_back(*in[k], x_spec);
                          dxs.push_back(targets.back().tensor);
                        }
                        batch_norm_group_backward(ys, save_means, save_invstds, dys, dxs,
                                                  backward_params);
                        for (GradTarget& t : targets) t.finish();
                      },
                      {}, member_inputs(xs.size(), 1));
}

}  // namespace autonet
