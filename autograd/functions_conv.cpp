// Dense and depthwise 2-D convolutions, groups of depthwise convs and pools of one input, groups
// of 1×1 convolutions of one shape, DARTS' FactorizedReduce, and groups of depthwise convs of their
// own inputs.
#include <algorithm>

#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dParams& p) {
  Tensor y = empty_as(conv2d_out_shape(x.shape(), weight.shape(), p), x.value());
  const Tensor b = bias.defined() ? bias.value() : Tensor();
  conv2d_forward(x.value(), weight.value(), b, y, p);
  // x serves only the weight gradient (dx needs the weight alone): a cheap producer's output is
  // rebuilt for it rather than kept, and not even rebuilt when the weight needs no gradient.
  const SavedValue saved_x(x);
  const Tensor wv = weight.value();
  const TensorSpec b_spec = bias.defined() ? TensorSpec::of(b) : TensorSpec{};
  return make_result("conv2d", y, {x, weight, bias}, [=](const Tensor& dy, const SlotList& in) {
    Tensor dw = accumulate_target(*in[1], TensorSpec::of(wv));
    Tensor db = accumulate_target(*in[2], b_spec);
    GradTarget dx(*in[0], saved_x.spec(), /*can_accumulate=*/true);
    // Without dw the kernel reads x's shape only: an unfilled stand-in serves a rebuilt x.
    const Tensor xv = dw.defined() || saved_x.kept() ? saved_x.get() : empty_of(saved_x.spec());
    conv2d_backward(xv, wv, dy, dx.tensor, dw, db, p, dx.mode);
    dx.finish();
  });
}

namespace {
// The entries of `all` whose `wanted` is true, in order: a group's members rebuilt together.
template <class T>
std::vector<T> picked(const std::vector<T>& all, const std::vector<bool>& wanted) {
  std::vector<T> some;
  for (size_t k = 0; k < all.size(); ++k)
    if (wanted[k]) some.push_back(all[k]);
  return some;
}

// One new tensor of `shape` like `like` where wanted, undefined elsewhere.
std::vector<Tensor> outputs_for(const std::vector<bool>& wanted, const Shape& shape,
                                const Tensor& like) {
  std::vector<Tensor> ys(wanted.size());
  for (size_t k = 0; k < ys.size(); ++k)
    if (wanted[k]) ys[k] = empty_as(shape, like);
  return ys;
}

// Parts (kernels/channel_moments.h) of `columns` for a tensor like `like`.
Tensor parts_for(const Tensor& like, int64_t columns) {
  return Tensor::empty({moment_parts(like.shape()), like.size(1), columns}, DType::f64,
                       like.device());
}

// Moment parts for outputs like `like` where wanted.
std::vector<Tensor> moments_for(const std::vector<bool>& wanted, const Tensor& like) {
  std::vector<Tensor> moments(wanted.size());
  for (size_t k = 0; k < moments.size(); ++k)
    if (wanted[k]) moments[k] = parts_for(like, kMomentColumns);
  return moments;
}
}  // namespace

Variable depthwise_conv2d(const Variable& x, const Variable& weight,
                          const DepthwiseConv2dParams& p) {
  Tensor y = empty_as(depthwise_conv2d_out_shape(x.shape(), weight.shape(), p), x.value());
  depthwise_conv2d_forward(x.value(), weight.value(), y, p);
  const Tensor xv = x.value(), wv = weight.value();
  const Shape y_shape = y.shape();
  // The forward is a small fraction of the backward's work: a consumer that needs y in backward
  // (the pointwise convolution after it) rebuilds it from x and w, which this node keeps anyway.
  return make_result(
      "depthwise_conv2d", y, {x, weight},
      [=](const Tensor& dy, const SlotList& in) {
        Tensor dw = accumulate_target(*in[1], TensorSpec::of(wv), LandsOn::side_stream);
        GradTarget dx(*in[0], TensorSpec::of(xv), /*can_accumulate=*/true);
        depthwise_conv2d_backward(xv, wv, dy, dx.tensor, dw, p, dx.mode);
        dx.finish();
      },
      [xv, wv, y_shape, p] {
        Tensor again = empty_as(y_shape, xv);
        depthwise_conv2d_forward(xv, wv, again, p);
        return again;
      });
}

std::vector<Variable> stencil_group(const Variable& x, const std::vector<Variable>& weights,
                                    const std::vector<Stencil>& stencils,
                                    const std::vector<bool>& moments_wanted) {
  std::vector<Tensor> wv;
  std::vector<Shape> w_shapes;
  for (const Variable& w : weights) {
    wv.push_back(w.defined() ? w.value() : Tensor());
    w_shapes.push_back(w.defined() ? w.shape() : Shape{});
  }
  const Shape out = stencil_group_out_shape(x.shape(), w_shapes, stencils);
  std::vector<Tensor> ys;
  for (size_t k = 0; k < stencils.size(); ++k) ys.push_back(empty_as(out, x.value()));
  const std::vector<Tensor> moments = moments_for(moments_wanted, ys[0]);
  stencil_group_forward(x.value(), wv, ys, stencils, moments);
  std::vector<Variable> inputs{x};
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  const Tensor xv = x.value();
  // The outputs backward reads are rebuilt from x and the filters (which backward keeps anyway),
  // all in one launch when the first is asked for: the wanted members as a smaller group.
  std::vector<GroupRecipe> recipes = rebuild_together(
      stencils.size(), [xv, wv, stencils, out](const std::vector<bool>& wanted) {
        std::vector<Tensor> again = outputs_for(wanted, out, xv), some_ys = picked(again, wanted);
        stencil_group_forward(xv, picked(wv, wanted), some_ys, picked(stencils, wanted));
        return again;
      });
  std::vector<Variable> outs = make_results(
      "stencil_group", std::move(ys), inputs,
      [=](const std::vector<Tensor>& dys, const SlotList& in) {
        std::vector<Tensor> dws;
        for (size_t k = 0; k < wv.size(); ++k)
          dws.push_back(wv[k].defined() ? accumulate_target(*in[1 + k], TensorSpec::of(wv[k]),
                                                            LandsOn::side_stream)
                                        : Tensor());
        GradTarget dx(*in[0], TensorSpec::of(xv), /*can_accumulate=*/true);
        stencil_group_backward(xv, wv, dys, dx.tensor, dws, stencils, dx.mode);
        dx.finish();
      },
      std::move(recipes), member_inputs(stencils.size(), 1, /*shared=*/1));
  for (size_t k = 0; k < moments.size(); ++k) outs[k].set_channel_moments(moments[k]);
  return outs;
}

std::vector<Variable> pointwise_group(const std::vector<Variable>& xs,
                                      const std::vector<Variable>& ws, bool relu_input,
                                      const std::vector<bool>& moments_wanted) {
  AN_CHECK(!xs.empty() && xs.size() == ws.size())
      << "pointwise_group: " << xs.size() << " inputs and " << ws.size()
      << " weights (one per member, at least one)";
  std::vector<Tensor> xv, wv, ys;
  for (size_t k = 0; k < xs.size(); ++k) {
    xv.push_back(xs[k].value());
    wv.push_back(ws[k].value());
  }
  const Shape out = conv2d_out_shape(xs[0].shape(), ws[0].shape(), Conv2dParams{});
  for (size_t k = 0; k < xs.size(); ++k) ys.push_back(empty_as(out, xv[0]));
  const std::vector<Tensor> moments = moments_for(moments_wanted, ys[0]);
  pointwise_group_forward(xv, wv, ys, relu_input, moments);
  // As conv2d: each x serves only its weight gradient (and, under a folded ReLU, relu'(x) for
  // dx), so a cheap producer's output is rebuilt for it rather than kept, and not even rebuilt
  // when neither needs it.
  std::vector<SavedValue> saved_xs;
  for (const Variable& x : xs) saved_xs.emplace_back(x);
  std::vector<Variable> inputs = xs;
  inputs.insert(inputs.end(), ws.begin(), ws.end());
  std::vector<Variable> outs = make_results(
      "pointwise_group", std::move(ys), inputs,
      [=](const std::vector<Tensor>& dys, const SlotList& in) {
        const size_t k_count = wv.size();
        std::vector<Tensor> xs_now, dxs, dws;
        std::vector<GradTarget> dx_targets;
        std::vector<GradMode> modes;
        dx_targets.reserve(k_count);
        GradSlot no_gradient;  // requires none: its target stays undefined
        for (size_t k = 0; k < k_count; ++k) {
          // A member whose output received no gradient gives its input and weight none either.
          dws.push_back(dys[k].defined() ? accumulate_target(*in[k_count + k],
                                                             TensorSpec::of(wv[k]),
                                                             LandsOn::side_stream)
                                         : Tensor());
          const SavedValue& x = saved_xs[k];
          dx_targets.emplace_back(dys[k].defined() ? *in[k] : no_gradient, x.spec(),
                                  /*can_accumulate=*/true);
          dxs.push_back(dx_targets[k].tensor);
          // Without dw (and relu') the kernel reads x's shape only: an unfilled stand-in serves.
          const bool reads_x = dws[k].defined() || (relu_input && dxs[k].defined());
          xs_now.push_back(reads_x || x.kept() ? x.get() : empty_of(x.spec()));
          modes.push_back(dx_targets[k].mode);
        }
        pointwise_group_backward(xs_now, wv, dys, dxs, dws, modes, relu_input);
        for (GradTarget& dx : dx_targets) dx.finish();
      },
      {}, member_inputs(xs.size(), 2));
  for (size_t k = 0; k < moments.size(); ++k) outs[k].set_channel_moments(moments[k]);
  return outs;
}

Variable factorized_reduce(const Variable& x, const Variable& w1, const Variable& w2) {
  Tensor y = empty_as(factorized_reduce_out_shape(x.shape(), w1.shape(), w2.shape()), x.value());
  factorized_reduce_forward(x.value(), w1.value(), w2.value(), y);
  // x serves dx (relu'(x)) and the weight gradients: kept as conv2d keeps its input, a cheap
  // producer's output rebuilt rather than kept.
  const SavedValue saved_x(x);
  const Tensor w1v = w1.value(), w2v = w2.value();
  auto backward_fn = [=](const Tensor& dy, const SlotList& in) {
    Tensor dw1 = accumulate_target(*in[1], TensorSpec::of(w1v), LandsOn::side_stream);
    Tensor dw2 = accumulate_target(*in[2], TensorSpec::of(w2v), LandsOn::side_stream);
    GradTarget dx(*in[0], saved_x.spec(), /*can_accumulate=*/true);
    factorized_reduce_backward(saved_x.get(), w1v, w2v, dy, dx.tensor, dw1, dw2, dx.mode);
    dx.finish();
  };
  return make_result("factorized_reduce", y, {x, w1, w2}, backward_fn);
}

namespace {
// The batch norms a depthwise group reads through (batch_norm_depthwise_group): the statistics
// they normalised with, and their parameters for backward.
struct FoldedNorms {
  std::vector<Tensor> means, invstds;
  BatchNormParams params;
};

// depthwise_group's node, the members reading x̂ of `folded`'s BNs where given (null: x itself).
std::vector<Variable> depthwise_group_node(const std::vector<Variable>& xs,
                                           const std::vector<Variable>& ws,
                                           const std::vector<DepthwiseConv2dParams>& params,
                                           std::shared_ptr<const FoldedNorms> folded) {
  AN_CHECK(xs.size() == params.size() && ws.size() == params.size())
      << "depthwise_group: " << xs.size() << " inputs and " << ws.size() << " filters for "
      << params.size() << " members";
  const size_t k_count = params.size();
  std::vector<Tensor> xv, wv;
  std::vector<Shape> x_shapes, w_shapes;
  std::vector<InputNorm> norms;
  for (size_t k = 0; k < k_count; ++k) {
    xv.push_back(xs[k].value());
    wv.push_back(ws[k].value());
    x_shapes.push_back(xv[k].shape());
    w_shapes.push_back(wv[k].shape());
    if (folded) norms.push_back({folded->means[k], folded->invstds[k]});
  }
  const Shape out = depthwise_group_out_shape(x_shapes, w_shapes, params);
  // Members `wanted` as one group (the others' outputs undefined).
  auto run = [xv, wv, params, norms, out](const std::vector<bool>& wanted) {
    std::vector<Tensor> ys = outputs_for(wanted, out, xv[0]), some_ys = picked(ys, wanted);
    depthwise_group_forward(picked(xv, wanted), picked(wv, wanted), some_ys,
                            picked(params, wanted), norms.empty() ? norms : picked(norms, wanted));
    return ys;
  };
  std::vector<Tensor> ys = run(std::vector<bool>(k_count, true));
  std::vector<Variable> inputs = xs;
  inputs.insert(inputs.end(), ws.begin(), ws.end());
  // Every output is rebuilt from its x and filter (which backward keeps anyway, as
  // depthwise_conv2d's node does), those backward reads in one launch when the first is asked for.
  std::vector<GroupRecipe> recipes = rebuild_together(k_count, run);
  return make_results(
      "depthwise_group", std::move(ys), inputs,
      [=](const std::vector<Tensor>& dys, const SlotList& in) {
        std::vector<GradTarget> dx_targets;
        dx_targets.reserve(k_count);
        std::vector<Tensor> dxs, dws;
        std::vector<GradMode> dx_modes;
        std::vector<size_t> shared_filters;  // members whose filter an earlier member also uses
        for (size_t k = 0; k < k_count; ++k) {
          // Through folded BNs the group's dx is the gradient at x̂, which their backward takes
          // on to x: written here, landed there (batch_norm_group_backward only writes).
          dx_targets.emplace_back(*in[k], TensorSpec::of(xv[k]), /*can_accumulate=*/!folded);
          dxs.push_back(dx_targets[k].tensor.defined() && folded ? empty_like(xv[k])
                                                                 : dx_targets[k].tensor);
          dx_modes.push_back(dx_targets[k].mode);
          GradSlot& w_slot = *in[k_count + k];
          const bool shared = std::any_of(in.begin() + k_count, in.begin() + k_count + k,
                                          [&](const auto& slot) { return slot.get() == &w_slot; });
          // The group adds into every dw at once: a filter an earlier member uses too gets a
          // gradient of its own, added after.
          if (!shared) {
            dws.push_back(accumulate_target(w_slot, TensorSpec::of(wv[k]), LandsOn::side_stream));
          } else if (w_slot.requires_grad) {
            dws.push_back(Tensor::zeros(wv[k].shape(), wv[k].dtype(), wv[k].device()));
            shared_filters.push_back(k);
          } else {
            dws.emplace_back();
          }
        }
        // A training BN's sums (Σg, Σg·x̂ of the gradient at x̂) formed as that gradient is
        // written, so its backward reads neither it nor x for them.
        std::vector<Tensor> grad_sums;
        if (folded && folded->params.training)
          for (size_t k = 0; k < k_count; ++k)
            grad_sums.push_back(dxs[k].defined() ? parts_for(xv[k], kGradSumColumns) : Tensor());
        depthwise_group_backward(xv, wv, dys, dxs, dws, params, dx_modes, norms, grad_sums);
        if (folded) {
          std::vector<Tensor> bn_dxs;
          for (GradTarget& dx : dx_targets) bn_dxs.push_back(dx.tensor);
          batch_norm_group_backward(xv, folded->means, folded->invstds, dxs, bn_dxs,
                                    folded->params, grad_sums);
        }
        for (GradTarget& dx : dx_targets) dx.finish();
        for (size_t k : shared_filters) accumulate_grad(*in[k_count + k], dws[k]);
      },
      std::move(recipes), member_inputs(k_count, 2));
}
}  // namespace

std::vector<Variable> depthwise_group(const std::vector<Variable>& xs,
                                      const std::vector<Variable>& ws,
                                      const std::vector<DepthwiseConv2dParams>& params) {
  return depthwise_group_node(xs, ws, params, nullptr);
}

std::vector<Variable> batch_norm_depthwise_group(const std::vector<Variable>& xs,
                                                 std::vector<Tensor> running_means,
                                                 std::vector<Tensor> running_vars,
                                                 const BatchNormParams& bn,
                                                 const std::vector<Variable>& ws,
                                                 const std::vector<DepthwiseConv2dParams>& params) {
  AN_CHECK(!xs.empty() && xs[0].dim() == 4)
      << "batch_norm_depthwise_group expects [N, C, H, W] members, got "
      << (xs.empty() ? std::string("none") : xs[0].value().describe());
  if (running_means.empty() && running_vars.empty())  // untracked throughout
    running_means.resize(xs.size()), running_vars.resize(xs.size());
  auto folded = std::make_shared<FoldedNorms>();
  std::vector<Tensor> x_values, no_outputs(xs.size()), moments;
  for (const Variable& x : xs) {
    x_values.push_back(x.value());
    moments.push_back(x.channel_moments());
    folded->means.push_back(empty_as({x.size(1)}, x.value()));
    folded->invstds.push_back(empty_as({x.size(1)}, x.value()));
  }
  // The BNs' statistics only (from the inputs' moments where their producer formed them): the
  // convs normalise as they read.
  batch_norm_group_forward(x_values, running_means, running_vars, no_outputs, folded->means,
                           folded->invstds, bn, moments);
  folded->params = bn;
  folded->params.backward_from_output = false;  // backward is given x, not x̂
  return depthwise_group_node(xs, ws, params, folded);
}

}  // namespace autonet
