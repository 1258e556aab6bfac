// Public entries of the softmax family: validate once, then dispatch to a twin.
#include "kernels/softmax.h"

#include "kernels/op_cost.h"

namespace autonet {

namespace {
void check_rows(const Tensor& x, const char* what) {
  check_contiguous(x, what);
  check_float(x, what);
  AN_CHECK(x.dim() >= 1 && x.size(-1) >= 1)
      << what << ": expected at least one class along the last axis, got " << x.describe();
}

// A classification loss's operands: logits-like [N, C] with N, C ≥ 1, targets i64 [N] on the same
// device, the loss (or its gradient) [1] like the scores.
void check_classification(const Tensor& scores, const Tensor& targets, const Tensor& loss,
                          const char* what) {
  check_float_tensor(scores, 2, what);
  AN_CHECK(scores.size(0) >= 1 && scores.size(1) >= 1)
      << what << ": expected a non-empty [N, C] batch, got " << scores.describe();
  check_contiguous(targets, what);
  check_dtype(targets, DType::i64, what);
  check_same_device(scores, targets, what);
  check_shape(targets, {scores.size(0)}, what);
  check_matches(loss, scores, {1}, what);
}

// Both cross-entropy entries: the classification operands, ε in [0, 1), and `out` [N, C] (the
// log-probabilities forward, dlogits backward) like `scores`.
void check_cross_entropy(const Tensor& scores, const Tensor& targets, const Tensor& loss,
                         const Tensor& out, double label_smoothing, const char* what) {
  check_classification(scores, targets, loss, what);
  AN_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0)
      << what << ": label_smoothing must lie in [0, 1), got " << label_smoothing;
  check_matches(out, scores, scores.shape(), what);
}
}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, bool log) {
  check_rows(x, "softmax_forward");
  check_matches(y, x, x.shape(), "softmax_forward");
  count_op("softmax_forward", [&] {
    return y.numel() == 0 ? OpCost{} : launch(bytes_of(x), bytes_of(y), 4 * x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::softmax_forward(x, y, log), cuda::softmax_forward(x, y, log));
}

void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, bool log, GradMode dx_mode) {
  check_rows(y, "softmax_backward");
  check_matches(dy, y, y.shape(), "softmax_backward");
  check_matches(dx, y, y.shape(), "softmax_backward");
  const bool accumulate = dx_mode == GradMode::Accumulate;
  AN_CHECK(!accumulate || (!overlaps(dx, y) && !overlaps(dx, dy)))
      << "softmax_backward: an added dx " << dx.describe() << " overlaps y or dy";
  count_op("softmax_backward", [&] {
    if (y.numel() == 0) return OpCost{};
    return launch(bytes_of(y, dy) + (accumulate ? bytes_of(dx) : 0), bytes_of(dx), 3 * y.numel());
  });
  AN_ON_DEVICE(y.device(), cpu::softmax_backward(y, dy, dx, log, dx_mode),
               cuda::softmax_backward(y, dy, dx, log, dx_mode));
}

void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& loss,
                           Tensor& log_probs, double label_smoothing) {
  const char* what = "cross_entropy_forward";
  check_cross_entropy(logits, targets, loss, log_probs, label_smoothing, what);
  // The log-softmax rows kernel writes each row's loss (f64), then one block averages them.
  count_op("cross_entropy_forward", [&] {
    const int64_t row_loss = logits.size(0) * 8;
    return launch(bytes_of(logits, targets), bytes_of(log_probs) + row_loss, 5 * logits.numel()) +
           launch(row_loss, bytes_of(loss), logits.size(0));
  });
  AN_ON_DEVICE(logits.device(),
               cpu::cross_entropy_forward(logits, targets, loss, log_probs, label_smoothing),
               cuda::cross_entropy_forward(logits, targets, loss, log_probs, label_smoothing));
}

void cross_entropy_backward(const Tensor& log_probs, const Tensor& targets, const Tensor& dloss,
                            Tensor& dlogits, double label_smoothing) {
  const char* what = "cross_entropy_backward";
  check_cross_entropy(log_probs, targets, dloss, dlogits, label_smoothing, what);
  count_op("cross_entropy_backward", [&] {
    return launch(bytes_of(log_probs, targets, dloss), bytes_of(dlogits), 3 * log_probs.numel());
  });
  AN_ON_DEVICE(log_probs.device(),
               cpu::cross_entropy_backward(log_probs, targets, dloss, dlogits, label_smoothing),
               cuda::cross_entropy_backward(log_probs, targets, dloss, dlogits, label_smoothing));
}

void nll_forward(const Tensor& log_probs, const Tensor& targets, Tensor& loss) {
  const char* what = "nll_forward";
  check_classification(log_probs, targets, loss, what);
  count_op("nll_forward", [&] {  // gathers one log-probability per row
    const int64_t gathered = log_probs.size(0) * static_cast<int64_t>(dtype_size(log_probs.dtype()));
    return launch(bytes_of(targets) + gathered, bytes_of(loss), log_probs.size(0));
  });
  AN_ON_DEVICE(log_probs.device(), cpu::nll_forward(log_probs, targets, loss),
               cuda::nll_forward(log_probs, targets, loss));
}

void nll_backward(const Tensor& targets, const Tensor& dloss, Tensor& dlog_probs) {
  const char* what = "nll_backward";
  check_classification(dlog_probs, targets, dloss, what);
  count_op("nll_backward", [&] {
    return launch(bytes_of(targets, dloss), bytes_of(dlog_probs), dlog_probs.size(0));
  });
  AN_ON_DEVICE(targets.device(), cpu::nll_backward(targets, dloss, dlog_probs),
               cuda::nll_backward(targets, dloss, dlog_probs));
}

}  // namespace autonet
