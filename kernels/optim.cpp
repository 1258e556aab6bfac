// Public entries of the optimizer family: validate once, then dispatch to a twin.
#include "kernels/optim.h"

#include "kernels/op_cost.h"

namespace autonet {

namespace {
// `other` is a flat buffer paired with `w`: contiguous, same dtype, device and element count.
void check_buffer(const Tensor& w, const Tensor& other, const char* what, const char* name) {
  AN_CHECK(other.defined()) << what << ": " << name << " is undefined";
  check_matches(other, w, what);
  AN_CHECK(other.numel() == w.numel())
      << what << ": " << name << " " << other.describe() << " has " << other.numel()
      << " elements, the weights " << w.describe() << " have " << w.numel();
}

void check_weights(const Tensor& w, const char* what) {
  check_defined(w, what);
  check_contiguous(w, what);
  check_float(w, what);
}
}  // namespace

void sgd_step(Tensor& w, const Tensor& grad, Tensor& momentum_buf, const SgdParams& p) {
  check_weights(w, "sgd_step");
  check_buffer(w, grad, "sgd_step", "grad");
  AN_CHECK(p.lr >= 0.0) << "sgd_step: lr must be >= 0, got " << p.lr;
  AN_CHECK(p.momentum >= 0.0) << "sgd_step: momentum must be >= 0, got " << p.momentum;
  AN_CHECK(p.weight_decay >= 0.0) << "sgd_step: weight_decay must be >= 0, got " << p.weight_decay;
  AN_CHECK(!p.nesterov || (p.momentum > 0.0 && p.dampening == 0.0))
      << "sgd_step: nesterov needs momentum > 0 and dampening = 0, got momentum " << p.momentum
      << ", dampening " << p.dampening;
  if (p.momentum != 0.0) check_buffer(w, momentum_buf, "sgd_step", "momentum_buf");
  count_op("sgd_step", [&] {  // the momentum buffer is read from the second step on
    if (w.numel() == 0) return OpCost{};
    const bool momentum = p.momentum != 0;
    const int64_t buf = momentum ? bytes_of(momentum_buf) : 0;
    return launch(bytes_of(w, grad) + (p.first_step ? 0 : buf), bytes_of(w) + buf, 6 * w.numel());
  });
  AN_ON_DEVICE(w.device(), cpu::sgd_step(w, grad, momentum_buf, p),
               cuda::sgd_step(w, grad, momentum_buf, p));
}

void adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamParams& p) {
  check_weights(w, "adam_step");
  check_buffer(w, grad, "adam_step", "grad");
  check_buffer(w, m, "adam_step", "m");
  check_buffer(w, v, "adam_step", "v");
  AN_CHECK(p.lr >= 0.0) << "adam_step: lr must be >= 0, got " << p.lr;
  AN_CHECK(p.beta1 >= 0.0 && p.beta1 < 1.0) << "adam_step: beta1 must be in [0, 1), got " << p.beta1;
  AN_CHECK(p.beta2 >= 0.0 && p.beta2 < 1.0) << "adam_step: beta2 must be in [0, 1), got " << p.beta2;
  AN_CHECK(p.eps >= 0.0) << "adam_step: eps must be >= 0, got " << p.eps;
  AN_CHECK(p.weight_decay >= 0.0) << "adam_step: weight_decay must be >= 0, got " << p.weight_decay;
  AN_CHECK(p.step >= 1) << "adam_step: step counts from 1, got " << p.step;
  count_op("adam_step", [&] {
    if (w.numel() == 0) return OpCost{};
    return launch(bytes_of(w, grad, m, v), bytes_of(w, m, v), 14 * w.numel());
  });
  AN_ON_DEVICE(w.device(), cpu::adam_step(w, grad, m, v, p), cuda::adam_step(w, grad, m, v, p));
}

void asgd_step(Tensor& w, const Tensor& grad, Tensor& ax, const AsgdParams& p) {
  check_weights(w, "asgd_step");
  check_buffer(w, grad, "asgd_step", "grad");
  check_buffer(w, ax, "asgd_step", "ax");
  AN_CHECK(p.eta >= 0.0) << "asgd_step: eta must be >= 0, got " << p.eta;
  AN_CHECK(p.lambd >= 0.0) << "asgd_step: lambd must be >= 0, got " << p.lambd;
  AN_CHECK(p.mu > 0.0 && p.mu <= 1.0) << "asgd_step: mu must be in (0, 1], got " << p.mu;
  AN_CHECK(p.weight_decay >= 0.0) << "asgd_step: weight_decay must be >= 0, got " << p.weight_decay;
  count_op("asgd_step", [&] {
    if (w.numel() == 0) return OpCost{};
    return launch(bytes_of(w, grad, ax), bytes_of(w, ax), 8 * w.numel());
  });
  AN_ON_DEVICE(w.device(), cpu::asgd_step(w, grad, ax, p), cuda::asgd_step(w, grad, ax, p));
}

}  // namespace autonet
