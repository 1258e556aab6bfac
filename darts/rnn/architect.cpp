// The α step of recurrent DARTS (reference darts.md §7.8).
#include "darts/rnn/architect.h"

#include "autograd/functions.h"
#include "darts/cnn/architect.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "runtime/error.h"

namespace autonet::darts {

RnnArchitect::RnnArchitect(RnnModel& model, ParameterStore& alphas,
                           const RnnArchitectConfig& config)
    : model_(model), alphas_(alphas), config_(config) {
  AN_CHECK(model.is_search()) << "rnn architect: the model is a derived cell (it has no α)";
  AN_CHECK(model.alpha().value().raw_data() == alphas.weights().raw_data() &&
           model.alpha().numel() == alphas.num_parameters())
      << "rnn architect: the α store does not hold the model's α";
  AN_CHECK(config.grad_clip > 0 && config.hessian_step > 0)
      << "rnn architect: grad_clip and hessian_step must be positive, got " << config.grad_clip
      << ", " << config.hessian_step;
  AdamOptions adam;
  adam.lr = config.learning_rate;
  adam.weight_decay = config.weight_decay;
  optimizer_ = std::make_unique<Adam>(alphas.weights(), alphas.grads(), adam);
}

Tensor RnnArchitect::nll_and_backward(const RnnSegment& segment, Tensor* hidden_out) {
  const RnnForward f = model_.run(segment.input, segment.hidden);
  const Variable nll = cross_entropy(f.logits, segment.target);
  backward(nll);
  if (hidden_out) *hidden_out = f.hidden;
  return nll.value();
}

RnnArchStep RnnArchitect::compute_gradient(const Sgd& sgd, const RnnSegment& train,
                                           const RnnSegment& valid) {
  AN_CHECK(model_.training()) << "rnn architect: the model must be in training mode (§7.8)";
  AN_CHECK(sgd.weights().raw_data() == model_.weight_store().weights().raw_data())
      << "rnn architect: the weight optimizer does not own this model's weights";
  return config_.unrolled ? second_order(sgd, train, valid) : first_order(valid);
}

RnnArchStep RnnArchitect::step(const Sgd& sgd, const RnnSegment& train, const RnnSegment& valid) {
  const RnnArchStep s = compute_gradient(sgd, train, valid);
  optimizer_->step();
  return s;
}

RnnArchStep RnnArchitect::first_order(const RnnSegment& valid) {
  RnnArchStep s;
  alphas_.zero_grad();
  ParameterGradScope no_weight_grads(model_.weight_store(), false);
  s.valid_loss = nll_and_backward(valid, &s.hidden_valid);
  return s;
}

RnnArchStep RnnArchitect::second_order(const Sgd& sgd, const RnnSegment& train,
                                       const RnnSegment& valid) {
  ParameterStore& weights = model_.weight_store();
  const auto train_masks = model_.rng_offsets();  // replayed by the w± passes
  Tensor w = weights.weights(), g = weights.grads();  // views of the flat buffers
  const Tensor w_saved = w.clone();

  // 1. g = ∇w NLL_train(w, α), clipped; c is kept unclamped, as the reference's _clip returns it.
  RnnArchStep s;
  weights.zero_grad();
  {
    ParameterGradScope no_alpha_grads(alphas_, false);
    nll_and_backward(train);
  }
  s.clip_coef = Tensor::empty({1}, DType::f64, g.device());
  clip_coefficient(clip_grad_norm_async(g, config_.grad_clip), config_.grad_clip, s.clip_coef);

  // 2. w′ = w − η·(g + λ·w): SGD without momentum, so the buffer term of the CNN's step is absent.
  apply_virtual_step(sgd, g, w);

  // 3. dα and v = ∇w′ NLL_val(w′, α) from the validation state; v clipped like g.
  Tensor d_alpha, v;
  {
    const Tensor bn_saved = snapshot_buffers(weights);
    weights.zero_grad();
    alphas_.zero_grad();
    s.valid_loss = nll_and_backward(valid, &s.hidden_valid);
    restore_buffers(weights, bn_saved);
    d_alpha = alphas_.grads().clone();
    v = g.clone();
    s.direction_norm = clip_grad_norm_async(v, config_.grad_clip);
  }
  const auto after_valid = model_.rng_offsets();

  // 4. H·v at w (train state, the masks of step 1), R = 0.01 / ‖v‖.
  w.copy_from(w_saved);
  const Tensor hvp =
      finite_difference_hvp(weights, alphas_, v, config_.hessian_step, w_saved, [&] {
        model_.set_rng_offsets(train_masks);
        nll_and_backward(train);
      }).product;
  model_.set_rng_offsets(after_valid);

  // 5. α.grad = dα − η·c·H·v.
  Tensor a_grad = alphas_.grads();
  a_grad.copy_from(d_alpha);
  axpby(-sgd.lr(), hvp, 1.0, a_grad, s.clip_coef);
  return s;
}

}  // namespace autonet::darts
