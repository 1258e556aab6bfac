// The architecture step of DARTS (reference darts.md §3.3–§3.5): the gradient of the validation
// loss with respect to α, then one Adam step on α.
//
//   first order (ξ = 0):  α.grad = ∇α L_val(w, α)
//   second order:         w′ = w − ξ·(μ·buf + ∇w L_train(w, α) + λ·w)      (the real SGD step)
//                         α.grad = ∇α L_val(w′, α) − ξ·(∇α L_train(w⁺) − ∇α L_train(w⁻)) / (2R)
//                         w± = w ± R·v,  v = ∇w′ L_val(w′, α),  R = 0.01 / ‖v‖₂
// with ξ the weight optimizer's current learning rate, μ its momentum and λ its weight decay, as
// the official code does. Every perturbation of w is one axpby over the flat weight buffer; w is
// restored from a copy (bit-exact, where the official code computes w⁻ + R·v).
//
// Deliberate differences that change no value: passes that only need ∇α turn the weights'
// gradients off (the official code computes and discards them), and the forward at w′ restores the
// BN running statistics afterwards (the official code runs it on a throw-away copy of the network).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "autograd/optimizer.h"
#include "darts/cnn/search_model.h"

namespace autonet::darts {

struct ArchitectConfig {
  bool unrolled = false;            // second order
  double learning_rate = 3e-4;      // Adam on α
  double beta1 = 0.5, beta2 = 0.999;
  double weight_decay = 1e-3;       // L2 added to α's gradient
  double hessian_step = 0.01;       // ‖R·v‖ of the finite-difference Hessian-vector product
};

// Turns requires_grad of every parameter of a store off (or on) for a scope, restoring it after.
class ParameterGradScope {
 public:
  ParameterGradScope(ParameterStore& store, bool requires_grad);
  ~ParameterGradScope();
  ParameterGradScope(const ParameterGradScope&) = delete;
  ParameterGradScope& operator=(const ParameterGradScope&) = delete;

 private:
  ParameterStore& store_;
  std::vector<bool> previous_;  // per parameter, creation order
};

// The unrolled weights of §3.5 step 3, in place: w ← w − ξ·(μ·buf + g + λ·w) with ξ, μ, λ and
// buf from `sgd` (buf only once it exists, i.e. after the first step). Without clipping this is
// exactly the step sgd.step() would take with gradient g (reference check #18).
void apply_virtual_step(const Sgd& sgd, const Tensor& g, Tensor& w);

// The untrained tensors of a store (BN running statistics), copied, to be put back later: the
// official code runs the w′ pass on a throw-away copy of the network, so the real one must not
// keep that pass's statistics. One copy of the store's flat buffer tensor each way.
Tensor snapshot_buffers(const ParameterStore& store);
void restore_buffers(const ParameterStore& store, const Tensor& copy);

// The finite-difference Hessian-vector product of §3.5 step 5 (and §7.8 step 4):
//   R = step / ‖v‖₂,  product = (∇α L(w + R·v) − ∇α L(w − R·v)) / (2R) ≈ ∇²_{α,w} L · v
// where `forward_backward` runs one forward and backward of L (it is called twice; the weights'
// gradients are off meanwhile and α's are zeroed before each call). w must equal `w_saved` (the
// caller's copy) on entry and is restored from it exactly (where the official code computes
// w⁻ + R·v). R stays on the device (central_difference_scales, kernels/reduce.h): nothing waits
// for the host, so the pass can be captured (runtime/cuda_graph.h). A zero v (a dead network) has
// no Hessian term: the product is zeros. A non-finite ‖v‖ spoils the product: the caller checks
// `direction_norm` when it reads its values.
struct HessianVectorProduct {
  Tensor product;         // α's shape
  Tensor direction_norm;  // [1] float64 on the device: ‖v‖₂
};
HessianVectorProduct finite_difference_hvp(ParameterStore& weights, ParameterStore& alphas,
                                           const Tensor& v, double step, const Tensor& w_saved,
                                           const std::function<void()>& forward_backward);

// What an α step leaves on the device, read and checked with the step's one host sync
// (search_step.h) — or never, in a benchmark.
struct ArchStepValues {
  Tensor valid_loss;      // [1]: L_val(w, α), or L_val(w′, α) when unrolled
  Tensor direction_norm;  // [1] float64, second order only: ‖v‖ of the Hessian term
};

class Architect {
 public:
  // `weight_optimizer` is the SGD of the network's weights: its lr is ξ, its momentum buffer and
  // weight decay enter the virtual step.
  Architect(SearchNetwork& net, const Sgd& weight_optimizer, const ArchitectConfig& config);

  // Leaves the α gradient in the α store's grads (zeroed first) and returns the values to check
  // (ArchStepValues), still on the device. Batches: images [N, C, H, W] and i64 labels [N] on the
  // network's device. w and the BN statistics of the w′ pass are restored. Neither order waits
  // for the host (capturable, runtime/cuda_graph.h); second order freezes ξ (the weight
  // optimizer's lr) and its momentum buffer's presence into what it launches.
  ArchStepValues compute_gradient(const Tensor& train_images, const Tensor& train_labels,
                                  const Tensor& valid_images, const Tensor& valid_labels);
  // The Adam step on α from the gradient in the α store.
  void apply_gradient() { optimizer_->step(); }

  Adam& optimizer() { return *optimizer_; }
  const ArchitectConfig& config() const { return config_; }

 private:
  ArchStepValues first_order(const Tensor& valid_images, const Tensor& valid_labels);
  ArchStepValues second_order(const Tensor& train_images, const Tensor& train_labels,
                              const Tensor& valid_images, const Tensor& valid_labels);
  // Forward + backward of the cross-entropy on one batch; returns the loss, still on the device.
  Tensor loss_and_backward(const Tensor& images, const Tensor& labels);

  SearchNetwork& net_;
  const Sgd& weight_optimizer_;
  ArchitectConfig config_;
  std::unique_ptr<Adam> optimizer_;
};

}  // namespace autonet::darts
