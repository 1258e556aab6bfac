// Public entries of the batch-norm group: validate once (errors name the member and the tensor),
// then dispatch to a twin.
#include "kernels/batch_norm_group.h"

#include <algorithm>
#include <string>

#include "kernels/op_cost.h"

namespace autonet {

namespace {
std::string member_name(const char* what, size_t k, const char* tensor) {
  return std::string(what) + ": member " + std::to_string(k) + " " + tensor;
}

// K members of one contiguous float shape [N, C, H, W] or [N, C] on one device; the op's params.
void check_members(const std::vector<Tensor>& xs, const BatchNormParams& p, const char* what) {
  AN_CHECK(!xs.empty() && xs.size() <= kMaxGroupMembers)
      << what << ": needs 1 to " << kMaxGroupMembers << " members, got " << xs.size();
  check_batch_norm_params(p, what);
  const Tensor& x0 = xs[0];
  const std::string name0 = member_name(what, 0, "x");
  check_defined(x0, name0.c_str());
  check_contiguous(x0, name0.c_str());
  check_float(x0, name0.c_str());
  AN_CHECK(x0.dim() == 4 || x0.dim() == 2)
      << name0 << " must be [N, C, H, W] or [N, C], got " << x0.describe();
  AN_CHECK(x0.size(1) >= 1) << name0 << " has no channels: " << x0.describe();
  for (size_t k = 1; k < xs.size(); ++k) {
    const std::string name = member_name(what, k, "x");
    check_defined(xs[k], name.c_str());
    check_matches(xs[k], x0, x0.shape(),
                  (name + " (a group's members share member 0's shape)").c_str());
  }
}

// One [C] vector per member, like member 0's x; undefined allowed where `optional`.
void check_channel_vectors(const std::vector<Tensor>& ts, const std::vector<Tensor>& xs,
                           const char* what, const char* tensor, bool optional) {
  AN_CHECK(ts.size() == xs.size()) << what << ": " << ts.size() << " " << tensor << " for "
                                   << xs.size() << " members (undefined tensors where none)";
  for (size_t k = 0; k < ts.size(); ++k) {
    const std::string name = member_name(what, k, tensor);
    if (optional && !ts[k].defined()) continue;
    check_defined(ts[k], name.c_str());
    check_matches(ts[k], xs[0], {xs[0].size(1)}, name.c_str());
  }
}
}  // namespace

void batch_norm_group_forward(const std::vector<Tensor>& xs, std::vector<Tensor>& running_means,
                              std::vector<Tensor>& running_vars, std::vector<Tensor>& ys,
                              std::vector<Tensor>& save_means, std::vector<Tensor>& save_invstds,
                              const BatchNormParams& p, const std::vector<Tensor>& moments) {
  const char* what = "batch_norm_group_forward";
  check_members(xs, p, what);
  check_channel_vectors(running_means, xs, what, "running_mean", true);
  check_channel_vectors(running_vars, xs, what, "running_var", true);
  for (size_t k = 0; k < xs.size(); ++k) {
    AN_CHECK(running_means[k].defined() == running_vars[k].defined())
        << member_name(what, k, "running_mean") << " and running_var are tracked together (both "
        << "defined or both undefined)";
    AN_CHECK(p.training || running_means[k].defined())
        << member_name(what, k, "running_mean") << ": eval normalises with the running "
        << "statistics, which are undefined";
  }
  AN_CHECK(ys.size() == xs.size())
      << what << ": " << ys.size() << " outputs for " << xs.size() << " members";
  for (size_t k = 0; k < ys.size(); ++k)  // undefined: statistics only
    check_matches_if_defined(ys[k], xs[0], xs[0].shape(), member_name(what, k, "y").c_str());
  check_channel_vectors(save_means, xs, what, "save_mean", false);
  check_channel_vectors(save_invstds, xs, what, "save_invstd", false);
  AN_CHECK(!p.training || xs[0].numel() / xs[0].size(1) > 1)
      << what << ": training needs more than one value per channel, got " << xs[0].describe();
  AN_CHECK(moments.empty() || xs[0].dim() == 4)
      << what << ": moment parts are of [N, C, H, W] inputs, got " << xs[0].describe();
  check_moment_list(moments, xs, what);
  // The statistics kernel (training: a block per member and channel, the running statistics
  // updated by it too; eval: the running statistics' invstd), then the normalize kernel for the
  // members with an output.
  count_op("batch_norm_group_forward", [&] {
    const int64_t saved = bytes_of_all(save_means) + bytes_of_all(save_invstds);
    const int64_t running = bytes_of_all(running_means) + bytes_of_all(running_vars);
    int64_t stats_read = 0, stats_flops = 0;
    for (size_t k = 0; k < xs.size(); ++k)
      add_statistics_reads(xs[k], moments, k, stats_read, stats_flops);
    const OpCost stats = p.training ? launch(stats_read + running, saved + running, stats_flops)
                                    : launch(running, saved);
    const auto normalized = [&](size_t k) { return ys[k].defined(); };
    const int64_t written = bytes_of_picked(ys, normalized);
    if (written == 0) return stats;
    return stats + launch(bytes_of_picked(xs, normalized) + saved, written,
                          4 * written / dtype_size(xs[0].dtype()));
  });
  AN_ON_DEVICE(xs[0].device(),
               cpu::batch_norm_group_forward(xs, running_means, running_vars, ys, save_means,
                                             save_invstds, p, moments),
               cuda::batch_norm_group_forward(xs, running_means, running_vars, ys, save_means,
                                              save_invstds, p, moments));
}

void batch_norm_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& save_means,
                               const std::vector<Tensor>& save_invstds,
                               const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                               const BatchNormParams& p, const std::vector<Tensor>& grad_sums) {
  const char* what = "batch_norm_group_backward";
  check_members(xs, p, what);
  check_channel_vectors(save_means, xs, what, "save_mean", false);
  check_channel_vectors(save_invstds, xs, what, "save_invstd", false);
  AN_CHECK(dys.size() == xs.size() && dxs.size() == xs.size())
      << what << ": " << dys.size() << " output gradients and " << dxs.size()
      << " input gradients for " << xs.size() << " members (undefined tensors where none)";
  for (size_t k = 0; k < xs.size(); ++k) {
    const std::string dy_name = member_name(what, k, "dy"), dx_name = member_name(what, k, "dx");
    AN_CHECK(!dxs[k].defined() || dys[k].defined())
        << dx_name << " is asked for but its dy is undefined";
    check_matches_if_defined(dys[k], xs[0], xs[0].shape(), dy_name.c_str());
    check_matches_if_defined(dxs[k], xs[0], xs[0].shape(), dx_name.c_str());
  }
  check_part_list(grad_sums, xs, kGradSumColumns, what, "member", "gradient sums");
  // Training: one kernel forms Σdy and Σdy·x̂ of every wanted member and channel (a block each;
  // from the member's gradient-sum parts where given) into the means [K, 2, C] that dx reads;
  // then one dx kernel for every wanted member. Eval: the dx kernel alone, which reads neither x
  // nor the means.
  count_op(what, [&] {
    const auto wanted = [&](size_t k) { return dxs[k].defined(); };
    const int64_t wanted_count =
        std::count_if(dxs.begin(), dxs.end(), [](const Tensor& dx) { return dx.defined(); });
    const int64_t n = xs[0].numel() * wanted_count;
    if (n == 0) return OpCost{};
    const int64_t saved =
        bytes_of_picked(save_means, wanted) + bytes_of_picked(save_invstds, wanted);
    const int64_t means = saved;  // mean(dy), mean(dy·x̂): two [C] per wanted member
    const int64_t dys_read = bytes_of_picked(dys, wanted);
    if (!p.training)  // dx = dy·invstd
      return launch(dys_read + bytes_of_picked(save_invstds, wanted), bytes_of_all(dxs), 6 * n);
    const int64_t xs_read = bytes_of_picked(xs, wanted);
    int64_t sums_read = saved, sums_flops = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!wanted(k)) continue;
      const bool from_parts = has_parts(grad_sums, k);
      sums_read += from_parts ? bytes_of(grad_sums[k]) : bytes_of(xs[k], dys[k]);
      sums_flops += from_parts ? grad_sums[k].numel() : 5 * xs[k].numel();
    }
    return launch(sums_read, means, sums_flops) +
           launch(xs_read + dys_read + saved + means, bytes_of_all(dxs), 6 * n);
  });
  AN_ON_DEVICE(xs[0].device(),
               cpu::batch_norm_group_backward(xs, save_means, save_invstds, dys, dxs, p,
                                              grad_sums),
               cuda::batch_norm_group_backward(xs, save_means, save_invstds, dys, dxs, p,
                                               grad_sums));
}

}  // namespace autonet
