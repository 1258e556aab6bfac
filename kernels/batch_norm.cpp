// Public entries of batch normalisation: validate once, then dispatch to a twin.
#include "kernels/batch_norm.h"
#include "kernels/op_cost.h"

namespace autonet {

namespace {
// x is [N, C, H, W] or [N, C].
void check_x(const Tensor& x, const char* what) {
  check_defined(x, what);
  check_contiguous(x, what);
  check_float(x, what);
  AN_CHECK(x.dim() == 4 || x.dim() == 2)
      << what << ": x must be [N, C, H, W] or [N, C], got " << x.describe();
  AN_CHECK(x.size(1) >= 1) << what << ": x has no channels: " << x.describe();
}

// A per-channel vector [C] like x (dtype, device), optional unless `required`.
void check_channel_vector(const Tensor& t, const Tensor& x, const char* what, const char* name,
                          bool required) {
  if (!t.defined()) {
    AN_CHECK(!required) << what << ": " << name << " is required here but undefined";
    return;
  }
  check_contiguous(t, what);
  check_same_dtype(x, t, what);
  check_same_device(x, t, what);
  AN_CHECK(t.dim() == 1 && t.size(0) == x.size(1))
      << what << ": " << name << " must be [" << x.size(1) << "] (one per channel of "
      << x.describe() << "), got " << t.describe();
}

void check_affine(const Tensor& weight, const Tensor& bias, const Tensor& x, const char* what) {
  AN_CHECK(weight.defined() == bias.defined())
      << what << ": weight and bias are both defined (affine) or both undefined, got weight "
      << (weight.defined() ? weight.describe() : "undefined") << ", bias "
      << (bias.defined() ? bias.describe() : "undefined");
  check_channel_vector(weight, x, what, "weight", false);
  check_channel_vector(bias, x, what, "bias", false);
}
}  // namespace

void check_batch_norm_params(const BatchNormParams& p, const char* what) {
  AN_CHECK(p.eps > 0.0) << what << ": eps must be > 0, got " << p.eps;
  AN_CHECK(p.momentum >= 0.0 && p.momentum <= 1.0)
      << what << ": momentum must be in [0, 1], got " << p.momentum;
}

// Training: one statistics kernel (a block per channel, the running statistics updated by it
// too); eval: the running statistics' invstd. Then the normalize kernel. Narrow channels: one
// kernel doing both (batch_norm_in_one_launch).
OpCost batch_norm_forward_cost(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                               const BatchNormParams& p) {
  const int64_t n = x.numel(), channel = bytes_of(save_mean, save_invstd);
  const int64_t running = bytes_of(running_mean, running_var);
  const int64_t stats_written = channel + (p.training ? running : 0);
  const int64_t stats_flops = p.training ? 4 * n : 0;
  if (batch_norm_in_one_launch(x))  // x read once, the statistics kept in the block
    return launch(bytes_of(x, weight, bias) + running, stats_written + bytes_of(y),
                  stats_flops + 4 * n);
  const OpCost stats =
      launch((p.training ? bytes_of(x) : 0) + running, stats_written, stats_flops);
  if (n == 0) return stats;
  return stats + launch(bytes_of(x, weight, bias) + channel, bytes_of(y), 4 * n);
}

// One kernel forms Σdy and Σdy·x̂ per channel (a block each; into dweight/dbias too, and the
// means [2, C] that dx reads), then the dx kernel. Narrow channels: one kernel doing both, the
// means kept in the block (batch_norm_in_one_launch).
OpCost batch_norm_backward_cost(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                                const Tensor& save_invstd, const Tensor& dy, const Tensor& dx,
                                const Tensor& dweight, const Tensor& dbias,
                                const BatchNormParams& p) {
  const int64_t n = x.numel(), channel = bytes_of(save_mean, save_invstd);
  const bool sums = dweight.defined() || dbias.defined() || (dx.defined() && p.training);
  if (n == 0 || (!sums && !dx.defined())) return OpCost{};
  if (batch_norm_in_one_launch(x))  // x and dy read once, the means kept in the block
    return launch(bytes_of(x, dy, weight, dweight, dbias) + channel,
                  bytes_of(dweight, dbias, dx),
                  (sums ? 5 * n : 0) + (dx.defined() ? 6 * n : 0));
  OpCost cost;
  if (sums)
    cost = launch(bytes_of(x, dy, dweight, dbias) + channel, bytes_of(dweight, dbias) + channel,
                  5 * n);
  if (dx.defined()) cost += launch(bytes_of(x, dy, weight) + 2 * channel, bytes_of(dx), 6 * n);
  return cost;
}

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  const char* what = "batch_norm_forward";
  check_x(x, what);
  check_batch_norm_params(p, what);
  check_affine(weight, bias, x, what);
  AN_CHECK(running_mean.defined() == running_var.defined())
      << what << ": running_mean and running_var are tracked together (both defined or both "
      << "undefined)";
  check_channel_vector(running_mean, x, what, "running_mean", !p.training);
  check_channel_vector(running_var, x, what, "running_var", !p.training);
  check_matches(y, x, x.shape(), what);
  check_channel_vector(save_mean, x, what, "save_mean", true);
  check_channel_vector(save_invstd, x, what, "save_invstd", true);
  const int64_t per_channel = x.numel() / x.size(1);
  AN_CHECK(!p.training || per_channel > 1)
      << what << ": training needs more than one value per channel, got " << x.describe();
  count_op("batch_norm_forward", [&] {
    return batch_norm_forward_cost(x, weight, bias, running_mean, running_var, y, save_mean,
                                   save_invstd, p);
  });
  AN_ON_DEVICE(x.device(),
               cpu::batch_norm_forward(x, weight, bias, running_mean, running_var, y, save_mean,
                                       save_invstd, p),
               cuda::batch_norm_forward(x, weight, bias, running_mean, running_var, y, save_mean,
                                        save_invstd, p));
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p) {
  const char* what = "batch_norm_backward";
  check_x(x, what);
  check_batch_norm_params(p, what);
  check_channel_vector(weight, x, what, "weight", false);
  check_channel_vector(save_mean, x, what, "save_mean", true);
  check_channel_vector(save_invstd, x, what, "save_invstd", true);
  check_matches(dy, x, x.shape(), what);
  check_matches_if_defined(dx, x, x.shape(), what);
  AN_CHECK(weight.defined() || (!dweight.defined() && !dbias.defined()))
      << what << ": dweight/dbias asked for without affine parameters (weight undefined)";
  AN_CHECK(!p.backward_from_output || !weight.defined())
      << what << ": backward_from_output needs an affine-free BN (its output is x̂ only then)";
  check_channel_vector(dweight, x, what, "dweight", false);
  check_channel_vector(dbias, x, what, "dbias", false);
  count_op("batch_norm_backward", [&] {
    return batch_norm_backward_cost(x, weight, save_mean, save_invstd, dy, dx, dweight, dbias, p);
  });
  AN_ON_DEVICE(
      x.device(),
      cpu::batch_norm_backward(x, weight, save_mean, save_invstd, dy, dx, dweight, dbias, p),
      cuda::batch_norm_backward(x, weight, save_mean, save_invstd, dy, dx, dweight, dbias, p));
}

}  // namespace autonet
