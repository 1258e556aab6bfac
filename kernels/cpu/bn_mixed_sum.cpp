// CPU twin of the fused batch-norm mixed sum: the statistics of every (candidate, channel) in one
// pass each (batch_norm_math.h), then one pass over the planes that normalises and sums all
// candidates; backward: Σdout and Σdout·v_k per (candidate, channel), then every dx_k, written or
// added into the gradient already there.
#include <vector>

#include "kernels/batch_norm_math.h"
#include "kernels/bn_mixed_sum.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
// Candidates [N, C, S] with S = H·W; plane (n, c) starts at (n·C + c)·S.
struct Dims {
  int64_t N, C, S;
  explicit Dims(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.size(2) * x.size(3)) {}
};

template <class T>
std::vector<const T*> data_of(const std::vector<Tensor>& xs) {
  std::vector<const T*> ptrs;
  for (const Tensor& x : xs) ptrs.push_back(x.data<T>());
  return ptrs;
}

}  // namespace

void bn_mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& xs,
                          std::vector<Tensor>& running_means, std::vector<Tensor>& running_vars,
                          Tensor& out, Tensor& save_mean, Tensor& save_invstd,
                          const BnMixedSumParams& p, const std::vector<Tensor>& moments) {
  dispatch_float(weights.dtype(), "bn_mixed_sum_forward", [&]<class T>() {
    const Dims d(xs[0]);
    const int64_t k_count = std::ssize(xs);
    const std::vector<const T*> px = data_of<T>(xs);
    const T* w = weights.data<T>();
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();  // [K, C]
#pragma omp parallel for if (k_count * out.numel() > 65536)
    for (int64_t kc = 0; kc < k_count * d.C; ++kc) {
      const int64_t k = kc / d.C, c = kc % d.C;
      if (!p.normalize[k]) {  // v_k = (x_k − 0)·1 = x_k exactly
        psm[kc] = T(0), psi[kc] = T(1);
        continue;
      }
      bn_channel_stats(px[k], d.N, d.C, d.S, c, p.bn, data_or_null<T>(running_means[k]),
                       data_or_null<T>(running_vars[k]), psm[kc], psi[kc],
                       parts_of(moments, size_t(k)));
    }
    T* po = out.data<T>();
#pragma omp parallel for if (k_count * out.numel() > 65536)
    for (int64_t plane = 0; plane < d.N * d.C; ++plane) {
      const int64_t c = plane % d.C, at = plane * d.S;
      // Candidate by candidate over the plane (the loop over s vectorises), each element's sum
      // still in candidate order.
      T* out_plane = po + at;
      for (int64_t s = 0; s < d.S; ++s) out_plane[s] = T(0);
      for (int64_t k = 0; k < k_count; ++k) {
        const T wk = w[k], mean = psm[k * d.C + c], invstd = psi[k * d.C + c];
        const T* x_plane = px[k] + at;
        for (int64_t s = 0; s < d.S; ++s) out_plane[s] += wk * bn_xhat(x_plane[s], mean, invstd);
      }
    }
  });
}

void bn_mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& xs,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout,
                           std::vector<Tensor>& dxs, Tensor& dweights, const BnMixedSumParams& p,
                           const std::vector<GradMode>& dx_modes) {
  dispatch_float(weights.dtype(), "bn_mixed_sum_backward", [&]<class T>() {
    const Dims d(xs[0]);
    const int64_t k_count = std::ssize(xs);
    const double m = static_cast<double>(d.N * d.S);
    const std::vector<const T*> px = data_of<T>(xs);
    const T *w = weights.data<T>(), *pg = dout.data<T>();
    const T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    auto centred = [&](int64_t k) { return p.bn.training && p.normalize[k] && dxs[k].defined(); };
    // Per (candidate, channel): Σdout and Σdout·v_k, where dw or a training BN gradient needs them.
    std::vector<double> sum_g(k_count * d.C, 0.0), sum_gv(k_count * d.C, 0.0);
#pragma omp parallel for if (k_count * dout.numel() > 65536)
    for (int64_t kc = 0; kc < k_count * d.C; ++kc) {
      const int64_t k = kc / d.C, c = kc % d.C;
      if (!dweights.defined() && !centred(k)) continue;
      bn_channel_grad_sums(px[k], pg, d.N, d.C, d.S, c, psm[kc], psi[kc], false, sum_g[kc],
                           sum_gv[kc]);
    }
    if (dweights.defined()) {
      T* pdw = dweights.data<T>();
      for (int64_t k = 0; k < k_count; ++k) {
        double dot = 0;  // <dout, v_k>, channel by channel
        for (int64_t c = 0; c < d.C; ++c) dot += sum_gv[k * d.C + c];
        pdw[k] += static_cast<T>(dot);
      }
    }
    // An added dx_k is formed apart (a plane at a time) and then added, so old + dx_k rounds once
    // and exactly as writing it and adding it with axpby did: no multiply-add can fuse the two.
#pragma omp parallel if (k_count * dout.numel() > 65536)
    {
      std::vector<T> plane_dx;
#pragma omp for
      for (int64_t kplane = 0; kplane < k_count * d.N * d.C; ++kplane) {
        const int64_t k = kplane / (d.N * d.C), plane = kplane % (d.N * d.C), c = plane % d.C;
        if (!dxs[k].defined()) continue;
        const int64_t kc = k * d.C + c, at = plane * d.S;
        const T mean = psm[kc], invstd = psi[kc];
        const T mean_g = static_cast<T>(sum_g[kc] / m), mean_gv = static_cast<T>(sum_gv[kc] / m);
        T* pdx = dxs[k].data<T>() + at;
        const bool accumulate = dx_modes[k] == GradMode::Accumulate;
        if (accumulate) plane_dx.resize(static_cast<size_t>(d.S));
        T* dst = accumulate ? plane_dx.data() : pdx;
        const bool through_statistics = centred(k);
        for (int64_t s = 0; s < d.S; ++s) {
          const T g = pg[at + s], v = bn_xhat(px[k][at + s], mean, invstd);
          dst[s] = through_statistics ? bn_input_grad_train(g, v, invstd, w[k], mean_g, mean_gv)
                                      : bn_input_grad_eval(g, invstd, w[k]);
        }
        if (accumulate)
          for (int64_t s = 0; s < d.S; ++s) pdx[s] += dst[s];
      }
    }
  });
}

AN_CPU_KERNELS_END
