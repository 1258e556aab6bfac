// CPU twin of batch normalisation: per channel, the statistics in one pass (shifted sums in
// double, batch_norm_math.h), then the elementwise normalisation in the tensor's precision;
// backward likewise: Σdy and Σdy·x̂ in one pass, then dx.
#include "kernels/batch_norm_math.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_forward", [&]<class T>() {
    const BnDims d(x);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T *pw = data_or_null<T>(weight), *pb = data_or_null<T>(bias);
    T *prm = data_or_null<T>(running_mean), *prv = data_or_null<T>(running_var);
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c)
      bn_forward_channel(px, d, c, p, pw, pb, prm, prv, py, psm, psi);
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const BnDims d(x);
    const T *px = x.data<T>(), *pdy = dy.data<T>(), *pw = data_or_null<T>(weight);
    const T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    T* pdx = data_or_null<T>(dx);
    T *pdw = data_or_null<T>(dweight), *pdb = data_or_null<T>(dbias);
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c)
      bn_backward_channel(px, pdy, d, c, p, pw, psm, psi, pdx, pdw, pdb);
  });
}

AN_CPU_KERNELS_END
