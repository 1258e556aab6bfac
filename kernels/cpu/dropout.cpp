// CPU reference of the dropout family: the mask is redrawn from the key in both directions.
#include <algorithm>
#include <vector>

#include "kernels/concat.h"
#include "kernels/dropout_math.h"

namespace autonet::cpu {

namespace {
constexpr int64_t kChunk = 4096;  // elements an added chunk is formed in before it is added

// out = in · mask / (1 − p), or that added into out; used by forward (x → y) and backward
// (dy → dx) alike. An added chunk is formed apart, then added: old + it rounded once, as axpby
// adds a written dx (no multiply-add can fuse the product with old).
void apply_mask(const Tensor& in, Tensor& out, const DropoutParams& p, const char* what,
                bool add = false) {
  dispatch_float(in.dtype(), what, [&]<class scalar_t>() {
    const scalar_t* pin = in.data<scalar_t>();
    scalar_t* pout = out.data<scalar_t>();
    const scalar_t scale = dropout_scale<scalar_t>(p.p);
    const int64_t n = in.numel();
    // A Philox block a quad of elements is worth a second thread from two chunks on (the small
    // recurrent step: 111–115 → 108–109 ms against a threshold of 16,384).
#pragma omp parallel if (n > 4096)
    {
      std::vector<scalar_t> formed(add ? kChunk : 0);
#pragma omp for
      for (int64_t begin = 0; begin < n; begin += kChunk) {
        const int64_t end = std::min(begin + kChunk, n);
        scalar_t* dst = add ? formed.data() - begin : pout;
        for_each_keep(p.key, p.mask_period, p.p, begin, end, [&](int64_t i, bool keep) {
          dst[i] = keep ? pin[i] * scale : scalar_t(0);
        });
        if (add)
          for (int64_t i = begin; i < end; ++i) pout[i] += formed[i - begin];
      }
    }
  });
}
}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, const DropoutParams& p) {
  apply_mask(x, y, p, "dropout_forward");
}

void dropout_backward(const Tensor& dy, Tensor& dx, const DropoutParams& p, GradMode dx_mode) {
  apply_mask(dy, dx, p, "dropout_backward", dx_mode == GradMode::Accumulate);
}

// The stack and its dropped copy by the concat and dropout twins, in the order the two ops run.
void stack_dropout_forward(const std::vector<Tensor>& xs, Tensor& y, Tensor& y_dropped,
                           const DropoutParams& p) {
  cpu::concat_forward(xs, 0, y);
  apply_mask(y, y_dropped, p, "stack_dropout_forward");
}

// dy + dropout_backward(dy_dropped) formed as autograd adds the two (the dropped term added into
// the stack's gradient), then split by concat_backward.
void stack_dropout_backward(const Tensor& dy, const Tensor& dy_dropped, std::vector<Tensor>& dxs,
                            const std::vector<GradMode>& dx_modes, const DropoutParams& p) {
  Tensor sum = dy_dropped.defined() ? Tensor::empty(dy_dropped.shape(), dy_dropped.dtype())
                                    : dy;
  if (dy_dropped.defined()) {
    if (dy.defined())  // a copy inside the twin, not an op of its own (the CUDA twin has none)
      dispatch_float(dy.dtype(), "stack_dropout_backward", [&]<class scalar_t>() {
        std::copy_n(dy.data<scalar_t>(), dy.numel(), sum.data<scalar_t>());
      });
    apply_mask(dy_dropped, sum, p, "stack_dropout_backward", dy.defined());
  }
  cpu::concat_backward(sum, 0, dxs, dx_modes);
}

}  // namespace autonet::cpu
