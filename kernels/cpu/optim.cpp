// CPU reference of the optimizer family: one loop over the flat buffers per step.
#include "kernels/cpu/isa.h"
#include "kernels/optim_math.h"

AN_CPU_KERNELS_BEGIN

void sgd_step(Tensor& w, const Tensor& grad, Tensor& momentum_buf, const SgdParams& p) {
  dispatch_float(w.dtype(), "sgd_step", [&]<class scalar_t>() {
    const SgdScalars<scalar_t> s = sgd_scalars<scalar_t>(p);
    scalar_t* pw = w.data<scalar_t>();
    const scalar_t* pg = grad.data<scalar_t>();
    scalar_t* pb = p.momentum != 0.0 ? momentum_buf.data<scalar_t>() : nullptr;
    const int64_t n = w.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) sgd_update(s, pw[i], pg[i], pb ? pb + i : nullptr);
  });
}

void adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamParams& p) {
  dispatch_float(w.dtype(), "adam_step", [&]<class scalar_t>() {
    const AdamScalars<scalar_t> s = adam_scalars<scalar_t>(p);
    scalar_t *pw = w.data<scalar_t>(), *pm = m.data<scalar_t>(), *pv = v.data<scalar_t>();
    const scalar_t* pg = grad.data<scalar_t>();
    const int64_t n = w.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) adam_update(s, pw[i], pg[i], pm[i], pv[i]);
  });
}

void asgd_step(Tensor& w, const Tensor& grad, Tensor& ax, const AsgdParams& p) {
  dispatch_float(w.dtype(), "asgd_step", [&]<class scalar_t>() {
    const AsgdScalars<scalar_t> s = asgd_scalars<scalar_t>(p);
    scalar_t *pw = w.data<scalar_t>(), *pax = ax.data<scalar_t>();
    const scalar_t* pg = grad.data<scalar_t>();
    const int64_t n = w.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) asgd_update(s, pw[i], pg[i], pax[i]);
  });
}

AN_CPU_KERNELS_END
