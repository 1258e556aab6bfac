// Public entries of the dropout family: validate once, then dispatch to a twin.
#include "kernels/dropout.h"

#include "kernels/op_cost.h"

#include <cmath>

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

}  // namespace autonet
