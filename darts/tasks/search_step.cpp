// The search step (search_step.h): α step, weight pass, clip, SGD, the one host sync.
#include "darts/tasks/search_step.h"

#include "autograd/functions.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "kernels/reduce.h"
#include "run/common.h"
#include "run/evaluation.h"

namespace autonet::darts {

WeightPass weight_pass(SearchNetwork& net, const Tensor& train_images, const Tensor& train_labels) {
  // α's gradient is not needed here (the official code computes and then discards it).
  ParameterGradScope no_alpha_grads(net.alpha_store(), false);
  net.weight_store().zero_grad();
  const Variable logits = net.forward(Variable(train_images));
  const Variable loss = cross_entropy(logits, train_labels);
  backward(loss);
  return {loss.value(), logits.value()};
}

SearchStepResult finish_weight_step(SearchNetwork& net, Sgd& weight_optimizer,
                                    const WeightPass& pass, const ArchStepValues& arch,
                                    const Tensor& train_labels, double grad_clip,
                                    const std::string& where) {
  Tensor grads = net.weight_store().grads();
  const Tensor norm = clip_grad_norm_async(grads, grad_clip);
  weight_optimizer.step();
  // The step's one host sync: every value is read after all its work is queued. A non-finite
  // value stops the run before anything is checkpointed (the weights in memory are then spoilt).
  if (arch.valid_loss.defined())
    run::check_finite(arch.valid_loss.item(), "validation loss of the α step", where);
  if (arch.direction_norm.defined())
    run::check_finite(arch.direction_norm.item(),
                      "norm of the validation gradient at w′ (the Hessian term's direction)",
                      where);
  SearchStepResult result;
  result.loss = pass.loss.item();
  run::check_finite(result.loss, "training loss", where);
  run::check_finite(norm.item(), "weights' gradient norm", where);
  result.correct = run::count_correct(pass.logits, train_labels);
  return result;
}

SearchStepResult frozen_arch_step(SearchNetwork& net, Sgd& weight_optimizer,
                                  const Tensor& train_images, const Tensor& train_labels,
                                  double grad_clip, const std::string& where) {
  const WeightPass pass = weight_pass(net, train_images, train_labels);
  return finish_weight_step(net, weight_optimizer, pass, {}, train_labels, grad_clip, where);
}

SearchStepResult search_step(SearchNetwork& net, Architect& architect, Sgd& weight_optimizer,
                             const Tensor& train_images, const Tensor& train_labels,
                             const Tensor& valid_images, const Tensor& valid_labels,
                             double grad_clip, const std::string& where) {
  // 1. α step on the validation batch (§3.4/§3.5).
  const ArchStepValues arch =
      architect.compute_gradient(train_images, train_labels, valid_images, valid_labels);
  architect.apply_gradient();
  // 2. Weight step with the updated α.
  const WeightPass pass = weight_pass(net, train_images, train_labels);
  return finish_weight_step(net, weight_optimizer, pass, arch, train_labels, grad_clip, where);
}

}  // namespace autonet::darts
