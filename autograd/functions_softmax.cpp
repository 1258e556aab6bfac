// Softmax, log-softmax and the classification losses.
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/softmax.h"

namespace autonet {
using namespace detail;

namespace {
Variable softmax_impl(const Variable& x, bool log) {
  Tensor y = empty_like(x.value());
  softmax_forward(x.value(), y, log);
  // Both backwards are functions of the output alone.
  return make_result(
      log ? "log_softmax" : "softmax", y, {x}, [y, log](const Tensor& dy, const SlotList& in) {
        mode_grad(*in[0], TensorSpec::of(y),
                  [&](Tensor& dx, GradMode mode) { softmax_backward(y, dy, dx, log, mode); });
      });
}
}  // namespace

Variable softmax(const Variable& x) { return softmax_impl(x, false); }
Variable log_softmax(const Variable& x) { return softmax_impl(x, true); }

Variable cross_entropy(const Variable& logits, const Tensor& targets, double label_smoothing) {
  Tensor loss = empty_as({1}, logits.value());
  Tensor log_probs = empty_like(logits.value());
  cross_entropy_forward(logits.value(), targets, loss, log_probs, label_smoothing);
  return make_result("cross_entropy", loss, {logits}, [=](const Tensor& dloss,
                                                          const SlotList& in) {
    write_grad(*in[0], TensorSpec::of(log_probs), [&](Tensor& dlogits) {
      cross_entropy_backward(log_probs, targets, dloss, dlogits, label_smoothing);
    });
  });
}

Variable nll(const Variable& log_probs, const Tensor& targets) {
  Tensor loss = empty_as({1}, log_probs.value());
  nll_forward(log_probs.value(), targets, loss);
  const TensorSpec spec = TensorSpec::of(log_probs.value());
  return make_result("nll", loss, {log_probs}, [=](const Tensor& dloss, const SlotList& in) {
    write_grad(*in[0], spec, [&](Tensor& dlog_probs) { nll_backward(targets, dloss, dlog_probs); });
  });
}

}  // namespace autonet
