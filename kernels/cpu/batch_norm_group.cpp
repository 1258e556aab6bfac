// CPU twin of the batch-norm group: every (member, channel) runs the single op's per-channel
// forward or backward (batch_norm_math.h), so member k equals batch_norm's CPU twin on it bit for
// bit; the group parallelises over all members' channels at once.
#include "kernels/batch_norm_group.h"
#include "kernels/batch_norm_math.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
template <class T, class Ptr = T*>
std::vector<Ptr> data_of(const std::vector<Tensor>& ts) {
  std::vector<Ptr> ptrs;
  for (const Tensor& t : ts) ptrs.push_back(data_or_null<T>(t));
  return ptrs;
}
}  // namespace

void batch_norm_group_forward(const std::vector<Tensor>& xs, std::vector<Tensor>& running_means,
                              std::vector<Tensor>& running_vars, std::vector<Tensor>& ys,
                              std::vector<Tensor>& save_means, std::vector<Tensor>& save_invstds,
                              const BatchNormParams& p, const std::vector<Tensor>& moments) {
  dispatch_float(xs[0].dtype(), "batch_norm_group_forward", [&]<class T>() {
    const BnDims d(xs[0]);
    const int64_t k_count = std::ssize(xs);
    const auto x = data_of<T, const T*>(xs);
    const auto rm = data_of<T>(running_means), rv = data_of<T>(running_vars);
    const auto y = data_of<T>(ys), sm = data_of<T>(save_means), si = data_of<T>(save_invstds);
#pragma omp parallel for if (k_count * d.N * d.C * d.S > 65536)
    for (int64_t kc = 0; kc < k_count * d.C; ++kc) {
      const int64_t k = kc / d.C, c = kc % d.C;
      bn_forward_channel<T>(x[k], d, c, p, nullptr, nullptr, rm[k], rv[k], y[k], sm[k], si[k],
                            parts_of(moments, size_t(k)));
    }
  });
}

void batch_norm_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& save_means,
                               const std::vector<Tensor>& save_invstds,
                               const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                               const BatchNormParams& p, const std::vector<Tensor>& grad_sums) {
  dispatch_float(xs[0].dtype(), "batch_norm_group_backward", [&]<class T>() {
    const BnDims d(xs[0]);
    const int64_t k_count = std::ssize(xs);
    const auto x = data_of<T, const T*>(xs), dy = data_of<T, const T*>(dys);
    const auto sm = data_of<T, const T*>(save_means), si = data_of<T, const T*>(save_invstds);
    const auto dx = data_of<T>(dxs);
#pragma omp parallel for if (k_count * d.N * d.C * d.S > 65536)
    for (int64_t kc = 0; kc < k_count * d.C; ++kc) {
      const int64_t k = kc / d.C, c = kc % d.C;
      if (!dx[k]) continue;  // no gradient wanted: nothing to sum either (no affine parameters)
      bn_backward_channel<T>(x[k], dy[k], d, c, p, nullptr, sm[k], si[k], dx[k], nullptr, nullptr,
                             parts_of(grad_sums, size_t(k)));
    }
  });
}

AN_CPU_KERNELS_END
