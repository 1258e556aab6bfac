// Differentiable ops: one wrapper per kernel entry. Each runs the forward kernel, and when a
// gradient is needed records a node whose closure captures only what the backward kernel reads
// (relu keeps its output, global_avg_pool only its input's shape, max-pool its input).
// Input gradients land through GradTarget (the first contribution written, later ones added by
// kernels that can accumulate, else written apart and added), parameter gradients through
// accumulate_target (the kernels accumulate).
//
// Shapes must match exactly: there is no broadcasting (DARTS never needs it).
#pragma once
#include <vector>

#include "autograd/variable.h"
#include "kernels/batch_norm.h"
#include "kernels/batch_norm_group.h"
#include "kernels/bn_mixed_sum.h"
#include "kernels/channel_shuffle.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/depthwise_conv2d.h"
#include "kernels/depthwise_group.h"
#include "kernels/dropout.h"
#include "kernels/factorized_reduce.h"
#include "kernels/pointwise_group.h"
#include "kernels/pool2d.h"
#include "kernels/stencil_group.h"

namespace autonet {

// ---- elementwise (same shapes)
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable scale(const Variable& x, double factor);
Variable relu(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);

// ---- reductions
Variable sum(const Variable& x);                 // all elements → [1]
Variable mean(const Variable& x);                // all elements → [1]
Variable sum(const Variable& x, int64_t axis);   // axis removed (negative counts from the end)
Variable mean(const Variable& x, int64_t axis);

// ---- dense
Variable matmul(const Variable& a, const Variable& b);  // a [m, k] · b [k, n] → [m, n]
// x [N, in] · weight[out, in]ᵀ + bias [out] (bias may be undefined).
Variable linear(const Variable& x, const Variable& weight, const Variable& bias = Variable());

// ---- convolution and pooling (NCHW)
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dParams& p);
// weight [C, 1, R, S]; p.relu_input folds a ReLU on x into the convolution.
Variable depthwise_conv2d(const Variable& x, const Variable& weight,
                          const DepthwiseConv2dParams& p);
Variable pool2d(const Variable& x, const Pool2dParams& p);
Variable max_pool2d(const Variable& x, int64_t kernel, int64_t stride, int64_t pad);
// count_include_pad = false, as in DARTS' pooling candidates.
Variable avg_pool2d(const Variable& x, int64_t kernel, int64_t stride, int64_t pad,
                    bool count_include_pad = false);
Variable global_avg_pool(const Variable& x);  // [N, C, H, W] → [N, C]
// Several depthwise convs and pools of one x in one op (kernels/stencil_group.h): output k is
// stencil k of x; weights[k] its filter [C, 1, R, S] (undefined for a pool). moments_wanted[k]
// (empty: none): output k carries its channel moments, as pointwise_group's below.
std::vector<Variable> stencil_group(const Variable& x, const std::vector<Variable>& weights,
                                    const std::vector<Stencil>& stencils,
                                    const std::vector<bool>& moments_wanted = {});
// Several 1×1 convolutions in one op (kernels/pointwise_group.h): output k is conv2d(xs[k], ws[k])
// (stride 1, no padding, no bias); every xs[k] of one shape, every ws[k] [Co, C, 1, 1] of one.
// The members' weights must be distinct variables (their gradients accumulate in one kernel).
// relu_input: output k is conv2d(relu(xs[k]), ws[k]), the ReLU folded into the kernels.
// moments_wanted[k] (empty: none): output k carries its channel moments (Variable::
// channel_moments), formed as it is written, for the batch norm that reads it.
std::vector<Variable> pointwise_group(const std::vector<Variable>& xs,
                                      const std::vector<Variable>& ws, bool relu_input = false,
                                      const std::vector<bool>& moments_wanted = {});
// DARTS' FactorizedReduce up to its BN in one op (kernels/factorized_reduce.h): relu(x) through
// w1 on the (even, even) pixels and w2 on the (odd, odd) ones, concatenated on channels; x
// [N, C, H, W] with H and W even, w1 and w2 [Co/2, C, 1, 1], distinct variables (their gradients
// land in one kernel).
Variable factorized_reduce(const Variable& x, const Variable& w1, const Variable& w2);
// Several depthwise convs, each of its own input, in one op (kernels/depthwise_group.h): output k
// is depthwise_conv2d(xs[k], ws[k], params[k]); the inputs share one shape, the outputs another.
std::vector<Variable> depthwise_group(const std::vector<Variable>& xs,
                                      const std::vector<Variable>& ws,
                                      const std::vector<DepthwiseConv2dParams>& params);
// Affine-free batch norms feeding depthwise convs, one of each per member, in one op: output k is
// depthwise_group's member k on batch_norm_group's output k (running statistics as there), but
// the normalised values are never written: the convs read x̂ as they load x
// (kernels/depthwise_group.h's norms). A DARTS sep conv's middle BN and second depthwise conv.
std::vector<Variable> batch_norm_depthwise_group(const std::vector<Variable>& xs,
                                                 std::vector<Tensor> running_means,
                                                 std::vector<Tensor> running_vars,
                                                 const BatchNormParams& bn,
                                                 const std::vector<Variable>& ws,
                                                 const std::vector<DepthwiseConv2dParams>& params);

// ---- normalisation
// x [N, C, H, W] or [N, C]. weight/bias [C] or undefined (affine = false). running_mean/var [C]
// are updated in place in training when defined; eval normalises with them.
Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    Tensor running_mean, Tensor running_var, const BatchNormParams& p);
// K affine-free batch norms in one op (kernels/batch_norm_group.h): output k is
// batch_norm(xs[k], {}, {}, running_means[k], running_vars[k], p), xs of one shape. Both vectors
// empty: no member tracks running statistics.
std::vector<Variable> batch_norm_group(const std::vector<Variable>& xs,
                                       std::vector<Tensor> running_means,
                                       std::vector<Tensor> running_vars, const BatchNormParams& p);

// ---- DARTS mixed op: Σ_k weights[k] · ys[k]; weights [K] (e.g. softmax(α) row) is differentiable.
Variable mixed_sum(const Variable& weights, const std::vector<Variable>& ys);
// The same with each candidate's closing affine-free batch norm folded in (kernels/bn_mixed_sum.h):
// Σ_k weights[k]·BN_k(xs[k]) for p.normalize[k], weights[k]·xs[k] otherwise. running_means[k] /
// running_vars[k] [C]: BN_k's running statistics (updated in training; undefined if untracked).
Variable bn_mixed_sum(const Variable& weights, const std::vector<Variable>& xs,
                      std::vector<Tensor> running_means, std::vector<Tensor> running_vars,
                      const BnMixedSumParams& p);

// ---- softmax and losses
Variable softmax(const Variable& x);      // over the last axis
Variable log_softmax(const Variable& x);  // over the last axis
// logits [N, C], targets [N] i64 → mean loss [1].
Variable cross_entropy(const Variable& logits, const Tensor& targets,
                       double label_smoothing = 0.0);
Variable nll(const Variable& log_probs, const Tensor& targets);  // → [1]

// ---- lookup, stochastic, structural
Variable embedding(const Variable& weight, const Tensor& ids);  // [V, D], ids i64 [S...] → [S..., D]
// p = 0 returns x itself. The mask comes from `key` (same on CPU and GPU, recomputed in backward).
Variable dropout(const Variable& x, double p, const PhiloxKey& key, int64_t mask_period = 0);
Variable concat(const std::vector<Variable>& xs, int64_t axis);
// xs of one shape S stacked along a new leading axis: [J, S...] (concat of the xs viewed as
// [1, S...], each x's gradient added in place where it has one: the recurrent cell's node inputs).
Variable stack(const std::vector<Variable>& xs);
Variable slice2d(const Variable& x, const Slice2dParams& p);
// PC-DARTS's merge: channel_shuffle(concat(head, tail on channels), groups) (kernels/channel_shuffle.h).
Variable channel_shuffle(const Variable& head, const Variable& tail, int64_t groups);
Variable view(const Variable& x, const Shape& shape);     // shares storage; one -1 inferred
Variable reshape(const Variable& x, const Shape& shape);  // view, copying first if needed
// x[index] along the leading axis, as a view (a row of softmax(α) for one mixed op).
Variable select(const Variable& x, int64_t index);
// Zeros with no gradient path (DARTS' `none` op): consumers get no contribution back from it.
Variable zeros(const Shape& shape, DType dtype, Device device);
Variable zeros_like(const Variable& x);

}  // namespace autonet
