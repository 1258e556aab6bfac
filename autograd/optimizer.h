// Optimizers over one flat weight buffer and its flat gradient buffer (a ParameterStore's pair,
// or α's), with PyTorch's semantics; each step is one fused kernel from kernels/optim.h.
// State buffers (momentum, Adam m/v, ASGD ax) are flat tensors of the weights' size, dtype and
// device. For checkpoints an optimizer exposes its state as named tensors plus JSON scalars;
// hyperparameters are construction options and are not restored.
//
// Flat buffers differ from torch's per-parameter loop in one corner: torch skips parameters whose
// .grad is None, here every weight is updated (and decayed) from its gradient slot, zero or not.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/safetensors.h"
#include "kernels/optim.h"

namespace autonet {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  virtual const char* kind() const = 0;  // "sgd", "adam", "asgd"

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t steps() const { return steps_; }  // completed steps
  const Tensor& weights() const { return weights_; }
  const Tensor& grads() const { return grads_; }

  // State buffers by name ("momentum_buffer", "exp_avg", ...): the optimizer's own storage, so
  // loading a checkpoint into them restores the state. Prefix them with with_prefix().
  virtual std::vector<NamedTensor> state_tensors() const = 0;
  // {"kind", "lr", "steps", ...}; load_state_json checks the kind and restores the scalars.
  virtual nlohmann::json state_json() const;
  virtual void load_state_json(const nlohmann::json& state);

 protected:
  Optimizer(Tensor weights, Tensor grads, double lr, const char* kind);
  Tensor zeros_like_weights() const;

  Tensor weights_, grads_;
  double lr_ = 0;
  int64_t steps_ = 0;
};

// torch.optim.SGD (options: kernels/optim.h). The momentum buffer exists only when momentum ≠ 0
// and is taken from the first step's gradient (buf = g), as in torch.
class Sgd final : public Optimizer {
 public:
  Sgd(Tensor weights, Tensor grads, const SgdOptions& options);
  void step() override;
  const char* kind() const override { return "sgd"; }
  const SgdOptions& options() const { return options_; }

  // DARTS' unrolled step reads μ·buf when the buffer exists (after the first step).
  bool has_momentum_buffer() const { return options_.momentum != 0 && steps_ > 0; }
  const Tensor& momentum_buffer() const { return momentum_buffer_; }

  std::vector<NamedTensor> state_tensors() const override;

 private:
  SgdOptions options_;
  Tensor momentum_buffer_;  // undefined when momentum = 0
};

// torch.optim.Adam (options: kernels/optim.h) with bias correction from the step count.
class Adam final : public Optimizer {
 public:
  Adam(Tensor weights, Tensor grads, const AdamOptions& options);
  void step() override;
  const char* kind() const override { return "adam"; }
  const AdamOptions& options() const { return options_; }
  std::vector<NamedTensor> state_tensors() const override;

 private:
  AdamOptions options_;
  Tensor exp_avg_, exp_avg_sq_;  // m, v
};

struct AsgdOptions {
  double lr = 0.01;
  double lambd = 1e-4;
  double alpha = 0.75;
  double t0 = 1e6;
  double weight_decay = 0.0;  // L2: added to the gradient
};

// torch.optim.ASGD (DARTS' RNN: lr 20, t0 = 0, lambd = 0). Each step uses eta and mu computed at
// the end of the previous step: eta = lr / (1 + lambd·lr·t)^alpha — so with lambd = 0 a step
// moves by the lr that was current during the previous step (set_lr acts one step late, as in
// torch) — and
// mu = 1 / max(1, t − t0); the first step initialises eta from the current lr. ax is the running
// average of the iterates; with t0 = 0 it restarts at the second iterate, as in torch.
class Asgd final : public Optimizer {
 public:
  Asgd(Tensor weights, Tensor grads, const AsgdOptions& options);
  void step() override;
  const char* kind() const override { return "asgd"; }
  const AsgdOptions& options() const { return options_; }

  double eta() const { return eta_; }  // step size of the next step (lr until the first step)
  double mu() const { return mu_; }
  const Tensor& averaged_weights() const { return ax_; }

  // Evaluation with the averaged weights (awd-lstm/DARTS): swap_in_averaged() keeps a copy of the
  // weights and puts ax in their place; swap_back() restores them exactly. step() refuses to run
  // while swapped. Prefer the AveragedWeights guard below.
  void swap_in_averaged();
  void swap_back();
  bool averaged_in() const { return backup_.defined(); }

  std::vector<NamedTensor> state_tensors() const override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& state) override;

 private:
  AsgdOptions options_;
  Tensor ax_;
  Tensor backup_;  // the trained weights while the average is swapped in
  double eta_ = 0, mu_ = 1;
};

// Scope during which the ASGD average sits in the weight buffer.
class AveragedWeights {
 public:
  explicit AveragedWeights(Asgd& asgd) : asgd_(asgd) { asgd_.swap_in_averaged(); }
  ~AveragedWeights();  // swaps back; never throws (reports to stderr)
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  Asgd& asgd_;
};

}  // namespace autonet
