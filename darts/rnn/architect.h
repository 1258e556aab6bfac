// The α step of recurrent DARTS (reference darts.md §7.8): the gradient of the validation NLL
// with respect to α, then one Adam step on α.
//
//   first order:   α.grad = ∇α NLL_val(w, α)
//   second order:  g = clip(∇w NLL_train(w, α)),  c = clip / (‖g‖ + 1e-6)   (c kept even when > 1)
//                  w′ = w − η·(g + λ·w)                                      (no momentum)
//                  dα, v = ∇α, ∇w′ NLL_val(w′, α);  v ← clip(v)
//                  α.grad = dα − η·c·(∇α NLL_train(w⁺) − ∇α NLL_train(w⁻)) / (2R)
//                  w± = w ± R·v,  R = 0.01 / ‖v‖
// with η the weight SGD's current (seq_len-scaled) lr, λ its weight decay and `clip` the
// weights' gradient clip (0.25). The losses are the NLL alone (no AR/TAR). Hidden states: the
// train passes start from the train stream's state (which this step does not advance), the
// validation pass from the validation stream's; the state that pass ends in is returned as the
// validation stream's next one (at w′ when unrolled, as the reference returns it).
// The pieces are the CNN architect's (darts/cnn/architect.h): apply_virtual_step over the flat
// weight buffer and finite_difference_hvp.
//
// Deliberate differences that change no reference value: passes that only need ∇α turn the weights'
// gradients off; the w′ pass restores the BN running statistics afterwards (the reference runs it
// on a copy of the network). One that does: the reference draws fresh dropout masks in each of its
// four forward passes, so its g⁺ − g⁻ is a difference of two differently masked losses (mask noise
// divided by 2R). Here NLL_train is one function: the w⁺ and w⁻ passes replay the masks of the
// pass that gave g, so the central difference is a Hessian-vector product of the loss that made
// w′; the validation pass draws its own masks, and the weight step after this one draws fresh
// ones, exactly where it would have without the replays.
#pragma once
#include <memory>

#include "autograd/optimizer.h"
#include "darts/rnn/model.h"

namespace autonet::darts {

struct RnnArchitectConfig {
  bool unrolled = false;         // second order
  double learning_rate = 3e-3;   // Adam on α, betas (0.9, 0.999): torch's defaults
  double weight_decay = 1e-3;    // L2 added to α's gradient
  double grad_clip = 0.25;       // the weights' clip, applied to g and to v (second order)
  double hessian_step = 0.01;    // ‖R·v‖ of the finite-difference Hessian-vector product
};

// A BPTT segment on the model's device: input i64 [T, B], target i64 [T·B], hidden [B, nhid].
struct RnnSegment {
  Tensor input, target, hidden;
};

// What an α step leaves on the device, read and checked with the step's one host sync.
struct RnnArchStep {
  Tensor valid_loss;      // [1]: NLL_val(w, α), or NLL_val(w′, α) when unrolled
  Tensor hidden_valid;    // the validation stream's next state (detached)
  Tensor clip_coef;       // [1] float64, second order: c (undefined in first order)
  Tensor direction_norm;  // [1] float64, second order: ‖v‖ before its clip
};

class RnnArchitect {
 public:
  // `alphas` is the store holding model.alpha() (the search model's α).
  RnnArchitect(RnnModel& model, ParameterStore& alphas, const RnnArchitectConfig& config);

  // Leaves the α gradient in the α store's grads (zeroed first). `sgd` is the weights' optimizer:
  // its lr is η and its weight decay λ (second order only). The network must be in training
  // mode; w is restored exactly, and so are the BN statistics of the w′ pass. Nothing waits for
  // the host: c, R and ‖v‖ stay on the device.
  RnnArchStep compute_gradient(const Sgd& sgd, const RnnSegment& train, const RnnSegment& valid);
  // compute_gradient, then the Adam step on α.
  RnnArchStep step(const Sgd& sgd, const RnnSegment& train, const RnnSegment& valid);

  Adam& optimizer() { return *optimizer_; }
  const RnnArchitectConfig& config() const { return config_; }

 private:
  RnnArchStep first_order(const RnnSegment& valid);
  RnnArchStep second_order(const Sgd& sgd, const RnnSegment& train, const RnnSegment& valid);
  // Forward + backward of the NLL of one segment; returns the loss [1], still on the device, and
  // the state.
  Tensor nll_and_backward(const RnnSegment& segment, Tensor* hidden_out = nullptr);

  RnnModel& model_;
  ParameterStore& alphas_;
  RnnArchitectConfig config_;
  std::unique_ptr<Adam> optimizer_;
};

}  // namespace autonet::darts
