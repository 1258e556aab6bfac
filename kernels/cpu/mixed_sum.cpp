// CPU reference of the mixed-op weighted sum: out = Σ_k w[k]·y_k, dy_k = w[k]·dout,
// dw[k] += <dout, y_k> (summed in double).
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/mixed_sum.h"

AN_CPU_KERNELS_BEGIN

void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out) {
  dispatch_float(weights.dtype(), "mixed_sum_forward", [&]<class scalar_t>() {
    const int k_count = static_cast<int>(ys.size());
    const scalar_t* w = weights.data<scalar_t>();
    std::vector<const scalar_t*> py;
    for (const Tensor& y : ys) py.push_back(y.data<scalar_t>());
    scalar_t* po = out.data<scalar_t>();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      scalar_t acc = 0;
      for (int k = 0; k < k_count; ++k) acc += w[k] * py[k][i];
      po[i] = acc;
    }
  });
}

void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys, const Tensor& dout,
                        std::vector<Tensor>& dys, Tensor& dweights) {
  dispatch_float(weights.dtype(), "mixed_sum_backward", [&]<class scalar_t>() {
    const scalar_t* w = weights.data<scalar_t>();
    const scalar_t* pd = dout.data<scalar_t>();
    const int64_t n = dout.numel();
    for (size_t k = 0; k < ys.size(); ++k) {
      if (dys[k].defined()) {
        scalar_t* pdy = dys[k].data<scalar_t>();
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; ++i) pdy[i] = w[k] * pd[i];
      }
      if (dweights.defined()) {
        const scalar_t* py = ys[k].data<scalar_t>();
        double dot = 0;
#pragma omp parallel for reduction(+ : dot) if (n > 65536)
        for (int64_t i = 0; i < n; ++i) dot += static_cast<double>(pd[i]) * py[i];
        scalar_t* dw = dweights.data<scalar_t>();
        dw[k] += static_cast<scalar_t>(dot);
      }
    }
  });
}

AN_CPU_KERNELS_END
