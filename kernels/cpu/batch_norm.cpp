// CPU twin of batch normalisation: per channel, the statistics in one pass (shifted sums in
// double, batch_norm_math.h), then the elementwise normalisation in the tensor's precision;
// backward likewise: Σdy and Σdy·x̂ in one pass, then dx.
#include "kernels/batch_norm_math.h"

namespace autonet::cpu {

namespace {
// x [N, C, S] with S = H·W (1 for [N, C]); channel c's elements are x[(n·C + c)·S + s].
struct Dims {
  int64_t N, C, S;
  explicit Dims(const Tensor& x)
      : N(x.size(0)), C(x.size(1)), S(x.dim() == 4 ? x.size(2) * x.size(3) : 1) {}
  int64_t per_channel() const { return N * S; }
  int64_t at(int64_t n, int64_t c, int64_t s) const { return (n * C + c) * S + s; }
};
}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_forward", [&]<class T>() {
    const Dims d(x);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    T* prm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* prv = running_var.defined() ? running_var.data<T>() : nullptr;
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c) {
      T mean_t, invstd_t;
      bn_channel_stats(px, d.N, d.C, d.S, c, p, prm, prv, mean_t, invstd_t);
      psm[c] = mean_t;
      psi[c] = invstd_t;
      const T w = pw ? pw[c] : T(1), b = pb ? pb[c] : T(0);
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t s = 0; s < d.S; ++s) {
          const int64_t i = d.at(n, c, s);
          py[i] = bn_output(px[i], mean_t, invstd_t, w, b);
        }
    }
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const Dims d(x);
    const T *px = x.data<T>(), *pdy = dy.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    T* pdw = dweight.defined() ? dweight.data<T>() : nullptr;
    T* pdb = dbias.defined() ? dbias.data<T>() : nullptr;
    const double m = static_cast<double>(d.per_channel());
    const bool from_output = p.backward_from_output;
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c) {
      const T mean = psm[c], invstd = psi[c];
      double sum_dy, sum_dy_xhat;
      bn_channel_grad_sums(px, pdy, d.N, d.C, d.S, c, mean, invstd, from_output, sum_dy,
                           sum_dy_xhat);
      if (pdb) pdb[c] += static_cast<T>(sum_dy);
      if (pdw) pdw[c] += static_cast<T>(sum_dy_xhat);
      if (!pdx) continue;
      const T w = pw ? pw[c] : T(1);
      const T mean_dy = static_cast<T>(sum_dy / m), mean_dy_xhat = static_cast<T>(sum_dy_xhat / m);
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t s = 0; s < d.S; ++s) {
          const int64_t i = d.at(n, c, s);
          pdx[i] = p.training ? bn_input_grad_train(pdy[i],
                                                    bn_saved_xhat(px[i], mean, invstd, from_output),
                                                    invstd, w, mean_dy, mean_dy_xhat)
                              : bn_input_grad_eval(pdy[i], invstd, w);
        }
    }
  });
}

}  // namespace autonet::cpu
