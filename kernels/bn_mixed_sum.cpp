// Public entries of the fused batch-norm mixed sum: validate once, then dispatch to a twin.
#include "kernels/bn_mixed_sum.h"

#include "kernels/op_cost.h"

namespace autonet {

namespace {
// weights [K], K same-shape contiguous float candidates [N, C, H, W] on one device, params for K.
void check_candidates(const Tensor& weights, const std::vector<Tensor>& xs,
                      const BnMixedSumParams& p, const char* what) {
  check_mixed_inputs(weights, xs, what, kMaxFoldedCandidates);
  AN_CHECK(p.normalize.size() == xs.size()) << what << ": normalize has " << p.normalize.size()
                                            << " flags for " << xs.size() << " candidates";
  AN_CHECK(p.bn.eps > 0.0) << what << ": eps must be > 0, got " << p.bn.eps;
  AN_CHECK(p.bn.momentum >= 0.0 && p.bn.momentum <= 1.0)
      << what << ": momentum must be in [0, 1], got " << p.bn.momentum;
  AN_CHECK(xs[0].dim() == 4) << what << ": candidates must be [N, C, H, W], got "
                             << xs[0].describe();
  AN_CHECK(!p.bn.training || xs[0].numel() / xs[0].size(1) > 1)
      << what << ": training needs more than one value per channel, got " << xs[0].describe();
}

// One kernel writes every dx_k while it reads the inputs: the gradients must share no memory with
// each other (an accumulated one would be added twice) or with what the kernel reads.
void check_gradients_separate(const std::vector<Tensor>& dxs, const std::vector<Tensor>& read,
                              const char* what) {
  for (size_t k = 0; k < dxs.size(); ++k) {
    if (!dxs[k].defined()) continue;
    for (size_t j = k + 1; j < dxs.size(); ++j)
      AN_CHECK(!dxs[j].defined() || !overlaps(dxs[k], dxs[j]))
          << what << ": candidates " << k << " and " << j << " write dx into the same memory; "
          << "each candidate needs a gradient of its own";
    for (const Tensor& t : read)
      AN_CHECK(!overlaps(dxs[k], t)) << what << ": candidate " << k << "'s dx overlaps an input";
  }
}
}  // namespace

void bn_mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& xs,
                          std::vector<Tensor>& running_means, std::vector<Tensor>& running_vars,
                          Tensor& out, Tensor& save_mean, Tensor& save_invstd,
                          const BnMixedSumParams& p, const std::vector<Tensor>& moments) {
  const char* what = "bn_mixed_sum_forward";
  check_candidates(weights, xs, p, what);
  const int64_t k_count = static_cast<int64_t>(xs.size()), channels = xs[0].size(1);
  AN_CHECK(running_means.size() == xs.size() && running_vars.size() == xs.size())
      << what << ": running statistics for " << running_means.size() << " and "
      << running_vars.size() << " candidates, expected " << k_count
      << " (undefined tensors where untracked)";
  int64_t running = 0;
  for (int64_t k = 0; k < k_count; ++k) {
    Tensor &mean = running_means[k], &var = running_vars[k];
    AN_CHECK(mean.defined() == var.defined())
        << what << ": candidate " << k << "'s running_mean and running_var are tracked together";
    AN_CHECK(p.normalize[k] || !mean.defined())
        << what << ": candidate " << k << " has running statistics but is not normalised";
    AN_CHECK(p.bn.training || !p.normalize[k] || mean.defined())
        << what << ": eval normalises candidate " << k << " with its running statistics, which "
        << "are undefined";
    if (!mean.defined()) continue;
    check_matches(mean, xs[0], {channels}, what);
    check_matches(var, xs[0], {channels}, what);
    running += bytes_of(mean, var);
  }
  check_matches(out, xs[0], xs[0].shape(), what);
  check_matches(save_mean, xs[0], {k_count, channels}, what);
  check_matches(save_invstd, xs[0], {k_count, channels}, what);
  check_moment_list(moments, xs, what, "candidate");
  // The statistics kernel (a block per candidate and channel; a candidate with moment parts
  // merges them, ~10 FLOPs a part, instead of reading x_k), then the kernel that normalises and
  // sums.
  count_op(what, [&] {
    const int64_t n = out.numel(), saved = bytes_of(save_mean, save_invstd);
    int64_t stats_read = 0, stats_flops = 0;
    for (size_t k = 0; k < xs.size(); ++k)
      if (p.bn.training && p.normalize[k])
        add_statistics_reads(xs[k], moments, k, stats_read, stats_flops);
    const OpCost stats = launch(stats_read + running, saved + running, stats_flops);
    if (n == 0) return stats;
    return stats + launch(bytes_of_all(xs) + saved + bytes_of(weights), bytes_of(out),
                          3 * n * k_count);
  });
  AN_ON_DEVICE(weights.device(),
               cpu::bn_mixed_sum_forward(weights, xs, running_means, running_vars, out, save_mean,
                                         save_invstd, p, moments),
               cuda::bn_mixed_sum_forward(weights, xs, running_means, running_vars, out,
                                          save_mean, save_invstd, p, moments));
}

void bn_mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& xs,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout,
                           std::vector<Tensor>& dxs, Tensor& dweights, const BnMixedSumParams& p,
                           const std::vector<GradMode>& dx_modes) {
  const char* what = "bn_mixed_sum_backward";
  check_candidates(weights, xs, p, what);
  const int64_t k_count = static_cast<int64_t>(xs.size()), channels = xs[0].size(1);
  check_matches(save_mean, xs[0], {k_count, channels}, what);
  check_matches(save_invstd, xs[0], {k_count, channels}, what);
  check_matches(dout, xs[0], xs[0].shape(), what);
  AN_CHECK(dxs.size() == xs.size() && dx_modes.size() == xs.size())
      << what << ": " << dxs.size() << " input gradients and " << dx_modes.size()
      << " dx modes for " << k_count
      << " candidates (use undefined tensors for gradients not wanted)";
  for (const Tensor& dx : dxs) check_matches_if_defined(dx, xs[0], xs[0].shape(), what);
  check_matches_if_defined(dweights, weights, {k_count}, what);
  std::vector<Tensor> read = xs;
  read.insert(read.end(), {weights, save_mean, save_invstd, dout});
  if (dweights.defined()) read.push_back(dweights);
  check_gradients_separate(dxs, read, what);
  // The sums kernel (a block per candidate and channel: Σdout and Σdout·v_k, and their means)
  // where dw or a training BN gradient needs them, then the kernel writing (or adding into) the
  // dx_k and folding dw.
  count_op(what, [&] {
    const int64_t n = dout.numel(), saved = bytes_of(save_mean, save_invstd);
    if (n == 0) return OpCost{};
    const auto summed = [&](size_t k) {
      return dweights.defined() || (p.bn.training && p.normalize[k] && dxs[k].defined());
    };
    const auto centred = [&](size_t k) {
      return p.bn.training && p.normalize[k] && dxs[k].defined();
    };
    int64_t summed_count = 0, written = 0, accumulated = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
      summed_count += summed(k) ? 1 : 0;
      written += bytes_of(dxs[k]);
      if (dx_modes[k] == GradMode::Accumulate) accumulated += bytes_of(dxs[k]);
    }
    const int64_t sums = 2 * channels * summed_count * int64_t(sizeof(double));  // [2, K, C]
    const int64_t means = 2 * channels * summed_count * int64_t(dtype_size(dout.dtype()));
    OpCost cost;
    if (summed_count > 0)
      cost = launch(bytes_of(dout) + bytes_of_picked(xs, summed) + saved, sums + means,
                    4 * n * summed_count);
    if (written > 0 || dweights.defined())
      cost += launch(bytes_of(dout, weights, dweights) + bytes_of_picked(xs, centred) + saved +
                         sums + means + accumulated,
                     written + bytes_of(dweights), 6 * n * std::ssize(dxs));
    return cost;
  });
  AN_ON_DEVICE(weights.device(),
               cpu::bn_mixed_sum_backward(weights, xs, save_mean, save_invstd, dout, dxs, dweights,
                                          p, dx_modes),
               cuda::bn_mixed_sum_backward(weights, xs, save_mean, save_invstd, dout, dxs, dweights,
                                           p, dx_modes));
}

}  // namespace autonet
