// CPU reference of the dropout family: the mask is redrawn from the key in both directions.
#include "kernels/dropout_math.h"

namespace autonet::cpu {

namespace {
// out = in · mask / (1 − p); used by forward (x → y) and backward (dy → dx) alike.
void apply_mask(const Tensor& in, Tensor& out, const DropoutParams& p, const char* what) {
  dispatch_float(in.dtype(), what, [&]<class scalar_t>() {
    const scalar_t* pin = in.data<scalar_t>();
    scalar_t* pout = out.data<scalar_t>();
    const scalar_t scale = dropout_scale<scalar_t>(p.p);
    const int64_t n = in.numel();
#pragma omp parallel for if (n > 16384)
    for (int64_t i = 0; i < n; ++i)
      pout[i] = dropout_keep(p.key, p.mask_period, p.p, i) ? pin[i] * scale : scalar_t(0);
  });
}
}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p) {
  apply_mask(x, y, p, "dropout_forward");
}

void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p) {
  apply_mask(dy, dx, p, "dropout_backward");
}

}  // namespace autonet::cpu
