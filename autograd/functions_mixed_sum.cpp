// The DARTS mixed op's weighted sum over candidate outputs, plain or with the candidates' closing
// batch norms folded in.
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/bn_mixed_sum.h"
#include "kernels/mixed_sum.h"

namespace autonet {
using namespace detail;

Variable mixed_sum(const Variable& weights, const std::vector<Variable>& ys) {
  AN_CHECK(!ys.empty()) << "mixed_sum of no inputs";
  std::vector<Tensor> y_values;
  y_values.reserve(ys.size());
  for (const Variable& y : ys) y_values.push_back(y.value());
  Tensor out = empty_like(y_values[0]);
  mixed_sum_forward(weights.value(), y_values, out);

  // dw[k] = <dout, y_k> needs the candidates' outputs, but only when the weights need a
  // gradient; dy_k = w[k]·dout needs only the weights. Without the outputs, dout stands in for
  // them (same shape; the kernel reads ys only for dweights). Cheap candidates are rebuilt.
  std::vector<Variable> inputs{weights};
  inputs.insert(inputs.end(), ys.begin(), ys.end());
  const Tensor w = weights.value();
  std::vector<SavedValue> saved;
  if (weights.requires_grad())
    for (const Variable& y : ys) saved.emplace_back(y);
  const TensorSpec y_spec = TensorSpec::of(out);
  return make_result("mixed_sum", out, inputs, [=](const Tensor& dout, const SlotList& in) {
    const size_t k = in.size() - 1;
    std::vector<Tensor> kept;
    for (const SavedValue& y : saved) kept.push_back(y.get());
    if (kept.empty()) kept.assign(k, dout);
    Tensor dweights = accumulate_target(*in[0], TensorSpec::of(w));
    std::vector<GradTarget> targets;
    targets.reserve(k);
    std::vector<Tensor> dys;
    dys.reserve(k);
    for (size_t i = 0; i < k; ++i) {
      targets.emplace_back(*in[i + 1], y_spec);
      dys.push_back(targets.back().tensor);
    }
    mixed_sum_backward(w, kept, dout, dys, dweights);
    for (GradTarget& t : targets) t.finish();
  });
}

Variable bn_mixed_sum(const Variable& weights, const std::vector<Variable>& xs,
                      std::vector<Tensor> running_means, std::vector<Tensor> running_vars,
                      const BnMixedSumParams& p) {
  AN_CHECK(!xs.empty()) << "bn_mixed_sum of no candidates";
  std::vector<Tensor> x_values, moments;  // moments: the producers', where they formed them
  x_values.reserve(xs.size());
  for (const Variable& x : xs) {
    x_values.push_back(x.value());
    moments.push_back(x.channel_moments());
  }
  const Tensor& first = x_values[0];
  AN_CHECK(first.dim() == 4) << "bn_mixed_sum expects [N, C, H, W] candidates, got "
                             << first.describe();
  const Shape saved_shape{static_cast<int64_t>(xs.size()), first.size(1)};
  Tensor out = empty_like(first);
  Tensor save_mean = empty_as(saved_shape, first), save_invstd = empty_as(saved_shape, first);
  bn_mixed_sum_forward(weights.value(), x_values, running_means, running_vars, out, save_mean,
                       save_invstd, p, moments);

  // Backward reads every candidate: a normalised one for its x̂, each for dw = <dout, v_k>.
  // Cheap candidates (the pools) are rebuilt then rather than kept.
  std::vector<Variable> inputs{weights};
  inputs.insert(inputs.end(), xs.begin(), xs.end());
  const Tensor w = weights.value();
  std::vector<SavedValue> saved(xs.begin(), xs.end());
  const TensorSpec x_spec = TensorSpec::of(out);
  return make_result("bn_mixed_sum", out, inputs, [=](const Tensor& dout, const SlotList& in) {
    std::vector<Tensor> candidates;
    candidates.reserve(saved.size());
    for (const SavedValue& x : saved) candidates.push_back(x.get());
    Tensor dweights = accumulate_target(*in[0], TensorSpec::of(w));
    // A skip_connect candidate is the state itself, whose gradient later nodes usually gave
    // already: the kernel adds into it rather than writing apart for an axpby.
    std::vector<GradTarget> targets;
    targets.reserve(candidates.size());
    std::vector<Tensor> dxs;
    dxs.reserve(candidates.size());
    std::vector<GradMode> dx_modes;
    dx_modes.reserve(candidates.size());
    for (size_t k = 0; k < candidates.size(); ++k) {
      targets.emplace_back(*in[k + 1], x_spec, /*can_accumulate=*/true);
      dxs.push_back(targets.back().tensor);
      dx_modes.push_back(targets.back().mode);
    }
    bn_mixed_sum_backward(w, candidates, save_mean, save_invstd, dout, dxs, dweights, p, dx_modes);
    for (GradTarget& t : targets) t.finish();
  });
}

}  // namespace autonet
