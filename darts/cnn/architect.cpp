// The α step (reference darts.md §3.4, §3.5).
#include "darts/cnn/architect.h"

#include <vector>

#include "autograd/functions.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "runtime/error.h"

namespace autonet::darts {
Tensor snapshot_buffers(const ParameterStore& store) { return store.buffers().clone(); }

void restore_buffers(const ParameterStore& store, const Tensor& copy) {
  store.buffers().copy_from(copy);
}

HessianVectorProduct finite_difference_hvp(ParameterStore& weights, ParameterStore& alphas,
                                           const Tensor& v, double step, const Tensor& w_saved,
                                           const std::function<void()>& forward_backward) {
  AN_CHECK(step > 0) << "finite_difference_hvp: step must be positive, got " << step;
  Tensor a_grad = alphas.grads();
  // {‖v‖, R, 1/(2R)} on the device, each axpby reading its coefficient there.
  Tensor sum_sq = Tensor::empty({1}, DType::f64, v.device());
  sum_of_squares(v, sum_sq);
  Tensor scales = Tensor::empty({3}, DType::f64, v.device());
  central_difference_scales(sum_sq, step, scales);
  const Tensor radius = scales.slice(0, 1, 2), inverse_width = scales.slice(0, 2, 3);
  Tensor w = weights.weights();
  ParameterGradScope no_weight_grads(weights, false);
  axpby(1.0, v, 1.0, w, radius);  // w⁺
  alphas.zero_grad();
  forward_backward();
  Tensor difference = a_grad.clone();  // g⁺
  axpby(-2.0, v, 1.0, w, radius);      // w⁻
  alphas.zero_grad();
  forward_backward();
  w.copy_from(w_saved);
  axpby(-1.0, a_grad, 1.0, difference);                    // g⁺ − g⁻, as the official code
  axpby(1.0, difference, 0.0, difference, inverse_width);  // / (2R)
  return {difference, scales.slice(0, 0, 1)};
}

void apply_virtual_step(const Sgd& sgd, const Tensor& g, Tensor& w) {
  AN_CHECK(g.numel() == w.numel() && g.numel() == sgd.weights().numel())
      << "apply_virtual_step: g " << g.describe() << " and w " << w.describe()
      << " must match the optimizer's weights " << sgd.weights().describe();
  // d = g + λ·w (+ μ·buf), then w −= ξ·d.
  Tensor d = g.clone();
  if (sgd.options().weight_decay != 0) axpby(sgd.options().weight_decay, w, 1.0, d);
  if (sgd.has_momentum_buffer()) axpby(sgd.options().momentum, sgd.momentum_buffer(), 1.0, d);
  axpby(-sgd.lr(), d, 1.0, w);
}

ParameterGradScope::ParameterGradScope(ParameterStore& store, bool requires_grad)
    : store_(store) {
  for (const ParameterStore::Entry& e : store_.entries()) {
    if (e.is_buffer) continue;
    previous_.push_back(e.var.requires_grad());
    Variable v = e.var;
    v.set_requires_grad(requires_grad);
  }
}

ParameterGradScope::~ParameterGradScope() {
  size_t i = 0;
  for (const ParameterStore::Entry& e : store_.entries()) {
    if (e.is_buffer || i >= previous_.size()) continue;
    Variable v = e.var;
    v.set_requires_grad(previous_[i++]);
  }
}

Architect::Architect(SearchNetwork& net, const Sgd& weight_optimizer,
                     const ArchitectConfig& config)
    : net_(net), weight_optimizer_(weight_optimizer), config_(config) {
  AN_CHECK(weight_optimizer.weights().raw_data() == net.weight_store().weights().raw_data() &&
           weight_optimizer.weights().numel() == net.weight_store().weights().numel())
      << "architect: the weight optimizer does not own this network's weights";
  AN_CHECK(config.hessian_step > 0) << "architect: hessian_step must be positive";
  AdamOptions adam;
  adam.lr = config.learning_rate;
  adam.beta1 = config.beta1;
  adam.beta2 = config.beta2;
  adam.weight_decay = config.weight_decay;
  ParameterStore& alphas = net.alpha_store();
  optimizer_ = std::make_unique<Adam>(alphas.weights(), alphas.grads(), adam);
}

Tensor Architect::loss_and_backward(const Tensor& images, const Tensor& labels) {
  Variable loss = cross_entropy(net_.forward(Variable(images)), labels);
  backward(loss);
  return loss.value();
}

ArchStepValues Architect::compute_gradient(const Tensor& train_images, const Tensor& train_labels,
                                           const Tensor& valid_images,
                                           const Tensor& valid_labels) {
  AN_CHECK(net_.training()) << "architect: the network must be in training mode (§3.3)";
  return config_.unrolled
             ? second_order(train_images, train_labels, valid_images, valid_labels)
             : first_order(valid_images, valid_labels);
}

ArchStepValues Architect::first_order(const Tensor& valid_images, const Tensor& valid_labels) {
  ParameterStore& alphas = net_.alpha_store();
  alphas.zero_grad();
  ParameterGradScope no_weight_grads(net_.weight_store(), false);
  return {loss_and_backward(valid_images, valid_labels), Tensor()};
}

ArchStepValues Architect::second_order(const Tensor& train_images, const Tensor& train_labels,
                                       const Tensor& valid_images, const Tensor& valid_labels) {
  ParameterStore& weights = net_.weight_store();
  ParameterStore& alphas = net_.alpha_store();
  Tensor w = weights.weights();  // views of the flat buffers, updated in place
  Tensor g = weights.grads();
  Tensor a_grad = alphas.grads();
  const double xi = weight_optimizer_.lr();
  const Tensor w_saved = w.clone();

  // 1. g = ∇w L_train(w, α) on the train batch (α's gradient is not needed here).
  weights.zero_grad();
  {
    ParameterGradScope no_alpha_grads(alphas, false);
    loss_and_backward(train_images, train_labels);
  }

  // 2–3. w′ = w − ξ·(μ·buf + g + λ·w).
  apply_virtual_step(weight_optimizer_, g, w);

  // 4. dα = ∇α L_val(w′, α), v = ∇w′ L_val(w′, α). The official code runs this pass on a copy of
  // the network, so the main network's BN statistics must not see it.
  Tensor valid_loss, d_alpha, v;
  {
    const Tensor bn_saved = snapshot_buffers(weights);
    weights.zero_grad();
    alphas.zero_grad();
    valid_loss = loss_and_backward(valid_images, valid_labels);
    restore_buffers(weights, bn_saved);
    d_alpha = a_grad.clone();
    v = g.clone();
  }

  // 5. H·v by central differences of ∇α L_train at w ± R·v, R = 0.01 / ‖v‖.
  w.copy_from(w_saved);
  const HessianVectorProduct hvp =
      finite_difference_hvp(weights, alphas, v, config_.hessian_step, w_saved,
                            [&] { loss_and_backward(train_images, train_labels); });
  // 6. α.grad = dα − ξ·H·v.
  a_grad.copy_from(d_alpha);
  axpby(-xi, hvp.product, 1.0, a_grad);
  return {valid_loss, hvp.direction_norm};
}

}  // namespace autonet::darts
