#include "autograd/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace autonet {

// ---- Optimizer ----------------------------------------------------------------------------------

Optimizer::Optimizer(Tensor weights, Tensor grads, double lr, const char* kind)
    : weights_(std::move(weights)), grads_(std::move(grads)), lr_(lr) {
  AN_CHECK(weights_.defined() && grads_.defined()) << kind << ": weights and grads must be defined";
  check_contiguous(weights_, kind);
  check_contiguous(grads_, kind);
  check_float(weights_, kind);
  check_same_dtype(weights_, grads_, kind);
  check_same_device(weights_, grads_, kind);
  AN_CHECK(weights_.numel() == grads_.numel())
      << kind << ": weights " << weights_.describe() << " and grads " << grads_.describe()
      << " differ in size";
  AN_CHECK(lr >= 0) << kind << ": invalid learning rate " << lr;
}

void Optimizer::set_lr(double lr) {
  AN_CHECK(lr >= 0) << kind() << ": invalid learning rate " << lr;
  lr_ = lr;
}

Tensor Optimizer::zeros_like_weights() const {
  return Tensor::zeros(weights_.shape(), weights_.dtype(), weights_.device());
}

nlohmann::json Optimizer::state_json() const {
  return {{"kind", kind()}, {"lr", lr_}, {"steps", steps_}};
}

void Optimizer::load_state_json(const nlohmann::json& state) {
  AN_CHECK(state.is_object() && state.value("kind", "") == kind())
      << "optimizer state " << state.dump() << " is not " << kind() << " state";
  AN_CHECK(state.contains("lr") && state["lr"].is_number() && state.contains("steps") &&
           state["steps"].is_number_integer() && state["steps"].get<int64_t>() >= 0)
      << kind() << " state lacks a valid \"lr\" or \"steps\": " << state.dump();
  set_lr(state["lr"].get<double>());
  steps_ = state["steps"].get<int64_t>();
}

// ---- SGD ----------------------------------------------------------------------------------------

Sgd::Sgd(Tensor weights, Tensor grads, const SgdOptions& options)
    : Optimizer(std::move(weights), std::move(grads), options.lr, "sgd"), options_(options) {
  AN_CHECK(options.momentum >= 0 && options.weight_decay >= 0)
      << "sgd: invalid momentum " << options.momentum << " or weight_decay "
      << options.weight_decay;
  AN_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0))
      << "sgd: nesterov momentum requires momentum > 0 and zero dampening";
  if (options.momentum != 0) momentum_buffer_ = zeros_like_weights();
}

void Sgd::step() {
  SgdParams p{options_};
  p.lr = lr_;  // the schedule's
  p.first_step = steps_ == 0;
  sgd_step(weights_, grads_, momentum_buffer_, p);
  ++steps_;
}

std::vector<NamedTensor> Sgd::state_tensors() const {
  if (!momentum_buffer_.defined()) return {};
  return {{"momentum_buffer", momentum_buffer_}};
}

// ---- Adam ---------------------------------------------------------------------------------------

Adam::Adam(Tensor weights, Tensor grads, const AdamOptions& options)
    : Optimizer(std::move(weights), std::move(grads), options.lr, "adam"), options_(options) {
  AN_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1)
      << "adam: betas (" << options.beta1 << ", " << options.beta2 << ") must lie in [0, 1)";
  AN_CHECK(options.eps >= 0 && options.weight_decay >= 0)
      << "adam: invalid eps " << options.eps << " or weight_decay " << options.weight_decay;
  exp_avg_ = zeros_like_weights();
  exp_avg_sq_ = zeros_like_weights();
}

void Adam::step() {
  AdamParams p{options_};
  p.lr = lr_;  // the schedule's
  p.step = steps_ + 1;
  adam_step(weights_, grads_, exp_avg_, exp_avg_sq_, p);
  ++steps_;
}

std::vector<NamedTensor> Adam::state_tensors() const {
  return {{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}};
}

// ---- ASGD ---------------------------------------------------------------------------------------

Asgd::Asgd(Tensor weights, Tensor grads, const AsgdOptions& options)
    : Optimizer(std::move(weights), std::move(grads), options.lr, "asgd"), options_(options) {
  AN_CHECK(options.lambd >= 0 && options.weight_decay >= 0)
      << "asgd: invalid lambd " << options.lambd << " or weight_decay " << options.weight_decay;
  ax_ = zeros_like_weights();
  eta_ = options.lr;
}

void Asgd::step() {
  AN_CHECK(!averaged_in()) << "asgd: step() while the averaged weights are swapped in";
  if (steps_ == 0) eta_ = lr_;  // torch creates the state (eta = lr) at the first step
  asgd_step(weights_, grads_, ax_,
            {.eta = eta_, .lambd = options_.lambd, .mu = mu_, .weight_decay = options_.weight_decay});
  ++steps_;
  const double t = static_cast<double>(steps_);
  eta_ = lr_ / std::pow(1 + options_.lambd * lr_ * t, options_.alpha);
  mu_ = 1 / std::max(1.0, t - options_.t0);
}

void Asgd::swap_in_averaged() {
  AN_CHECK(!averaged_in()) << "asgd: averaged weights are already swapped in";
  AN_CHECK(steps_ > 0) << "asgd: no averaged weights before the first step";
  backup_ = weights_.clone();
  weights_.copy_from(ax_);
}

void Asgd::swap_back() {
  AN_CHECK(averaged_in()) << "asgd: swap_back() without swap_in_averaged()";
  weights_.copy_from(backup_);
  backup_ = Tensor();
}

std::vector<NamedTensor> Asgd::state_tensors() const { return {{"ax", ax_}}; }

nlohmann::json Asgd::state_json() const {
  nlohmann::json state = Optimizer::state_json();
  state["eta"] = eta_;
  state["mu"] = mu_;
  return state;
}

void Asgd::load_state_json(const nlohmann::json& state) {
  AN_CHECK(!averaged_in()) << "asgd: loading state while the averaged weights are swapped in";
  Optimizer::load_state_json(state);
  AN_CHECK(state.contains("eta") && state["eta"].is_number() && state.contains("mu") &&
           state["mu"].is_number())
      << "asgd state lacks \"eta\" or \"mu\": " << state.dump();
  eta_ = state["eta"].get<double>();
  mu_ = state["mu"].get<double>();
}

AveragedWeights::~AveragedWeights() {
  try {
    asgd_.swap_back();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autonet: restoring the weights after averaged evaluation failed: %s\n",
                 e.what());
  }
}

}  // namespace autonet
