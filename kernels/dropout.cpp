// Public entries of the dropout family: validate once, then dispatch to a twin.
#include "kernels/dropout.h"

#include "kernels/op_cost.h"

#include <cmath>
#include <string>

namespace autonet {

namespace {
void check_dropout(const Tensor& in, const Tensor& out, const DropoutParams& p, const char* what) {
  check_contiguous(in, what);
  check_float(in, what);
  check_matches(out, in, in.shape(), what);
  AN_CHECK(std::isfinite(p.p) && p.p >= 0.0 && p.p < 1.0)
      << what << ": drop probability must lie in [0, 1), got " << p.p;
  AN_CHECK(p.mask_period >= 0) << what << ": mask_period must be >= 0, got " << p.mask_period;
  AN_CHECK(p.mask_period == 0 || in.numel() % p.mask_period == 0)
      << what << ": mask_period " << p.mask_period << " does not divide the "
      << in.numel() << " elements of " << in.describe();
}

// One kernel drawing the mask from Philox as it scales (a draw counted as 1 FLOP).
OpCost dropout_cost(const Tensor& in, const Tensor& out) {
  return in.numel() == 0 ? OpCost{} : launch(bytes_of(in), bytes_of(out), 2 * in.numel());
}
}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p) {
  check_dropout(x, y, p, "dropout_forward");
  count_op("dropout_forward", [&] { return dropout_cost(x, y); });
  AN_ON_DEVICE(x.device(), cpu::dropout_forward(x, y, p), cuda::dropout_forward(x, y, p));
}

void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p, GradMode dx_mode) {
  check_dropout(dy, dx, p, "dropout_backward");
  AN_CHECK(!overlaps(dx, dy)) << "dropout_backward: dx " << dx.describe() << " overlaps dy";
  count_op("dropout_backward", [&] {  // an added dx is read too
    OpCost cost = dropout_cost(dy, dx);
    if (dx_mode == GradMode::Accumulate && dx.numel() > 0) cost.bytes_read += bytes_of(dx);
    return cost;
  });
  AN_ON_DEVICE(dy.device(), cpu::dropout_backward(dy, dx, p, dx_mode),
               cuda::dropout_backward(dy, dx, p, dx_mode));
}

namespace {
// Parts [1, S...] of one shape, contiguous, like `like` ([J, S...]) in dtype and device.
void check_parts_of(const std::vector<Tensor>& parts, const Tensor& like, const char* what,
                    const char* name) {
  AN_CHECK(parts.size() >= 1 && parts.size() <= size_t(kMaxStackParts) &&
           like.size(0) == std::ssize(parts))
      << what << ": " << parts.size() << " " << name << " for " << like.describe()
      << " (1 to " << kMaxStackParts << ", one per row of the stack)";
  Shape part = like.shape();
  part[0] = 1;
  for (size_t j = 0; j < parts.size(); ++j)
    if (parts[j].defined())
      check_matches(parts[j], like, part, (std::string(what) + ": " + name).c_str());
}
}  // namespace

void stack_dropout_forward(const std::vector<Tensor>& xs, Tensor& y, Tensor& y_dropped,
                           const DropoutParams& p) {
  const char* what = "stack_dropout_forward";
  check_dropout(y, y_dropped, p, what);
  check_parts_of(xs, y, what, "parts");
  for (const Tensor& x : xs) check_defined(x, what);
  // One kernel: each part read once, the stack and its dropped copy written.
  count_op(what, [&] {
    return y.numel() == 0 ? OpCost{}
                          : launch(bytes_of(y), bytes_of(y, y_dropped), 2 * y.numel());
  });
  AN_ON_DEVICE(y.device(), cpu::stack_dropout_forward(xs, y, y_dropped, p),
               cuda::stack_dropout_forward(xs, y, y_dropped, p));
}

void stack_dropout_backward(const Tensor& dy, const Tensor& dy_dropped, std::vector<Tensor>& dxs,
                            const std::vector<GradMode>& dx_modes, const DropoutParams& p) {
  const char* what = "stack_dropout_backward";
  AN_CHECK(dy.defined() || dy_dropped.defined())
      << what << ": neither the stack nor its dropped copy has a gradient";
  const Tensor& like = dy.defined() ? dy : dy_dropped;
  check_dropout(like, like, p, what);
  if (dy.defined() && dy_dropped.defined()) check_matches(dy_dropped, dy, dy.shape(), what);
  check_parts_of(dxs, like, what, "input gradients");
  AN_CHECK(dx_modes.size() == dxs.size())
      << what << ": " << dx_modes.size() << " dx modes for " << dxs.size() << " parts";
  for (const Tensor& dx : dxs)
    AN_CHECK(!dx.defined() || (!overlaps(dx, like) && !(dy_dropped.defined() &&
                                                        overlaps(dx, dy_dropped))))
        << what << ": an input gradient overlaps an output gradient";
  // One kernel: the output gradients read once, each part's sum written or added.
  count_op(what, [&] {
    int64_t written = 0, added = 0;
    for (size_t j = 0; j < dxs.size(); ++j) {
      written += bytes_of(dxs[j]);
      if (dxs[j].defined() && dx_modes[j] == GradMode::Accumulate) added += bytes_of(dxs[j]);
    }
    return written == 0 ? OpCost{}
                        : launch(bytes_of(dy, dy_dropped) + added, written, 3 * like.numel());
  });
  AN_ON_DEVICE(like.device(), cpu::stack_dropout_backward(dy, dy_dropped, dxs, dx_modes, p),
               cuda::stack_dropout_backward(dy, dy_dropped, dxs, dx_modes, p));
}

}  // namespace autonet
