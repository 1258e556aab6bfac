// CPU reference of the dropout family: the mask is redrawn from the key in both directions.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/concat.h"
#include "kernels/cpu/isa.h"
#include "kernels/dropout_math.h"

AN_CPU_KERNELS_BEGIN

namespace {
constexpr int64_t kChunk = 4096;  // elements an added chunk is formed in before it is added

// The keep decisions of one mask period (mask_period > 0), drawn once per key. The recurrent
// cell's locked masks are applied to every state of every time step with one key, forward and
// backward: drawing a Philox block for every four elements each time was 7% of the small search
// step. A thread keeps the last period it drew; the same key, period and p give the same
// decisions, so reusing them changes nothing.
struct PeriodMask {
  uint64_t seed = 0, block = 0;  // block: the key's counter block of mask index 0
  uint32_t stream = 0;
  int64_t period = 0;
  double p = -1.0;
  std::vector<uint8_t> keep;  // 1 where kept

  bool drawn_for(const DropoutParams& d) const {
    return period == d.mask_period && p == d.p && seed == d.key.seed && stream == d.key.stream &&
           block == d.key.block(0);
  }
};

const std::vector<uint8_t>& period_mask(const DropoutParams& d) {
  thread_local PeriodMask last;
  if (!last.drawn_for(d)) {
    last.keep.resize(d.mask_period);
    uint8_t* keep = last.keep.data();
#pragma omp parallel for if (d.mask_period > 4 * kChunk)
    for (int64_t begin = 0; begin < d.mask_period; begin += kChunk)
      for_each_keep(d.key, d.mask_period, d.p, begin, std::min(begin + kChunk, d.mask_period),
                    [&](int64_t i, bool kept) { keep[i] = kept; });
    last.seed = d.key.seed, last.block = d.key.block(0), last.stream = d.key.stream;
    last.period = d.mask_period, last.p = d.p;
  }
  return last.keep;
}

// dst[i] = in[i] · scale where kept, else 0, for i in [begin, end) with keep[j] the decision of
// mask index j = i mod period: the product ANDed with an all-ones or all-zeros word, so the loop
// vectorises (a ?: would not: the product could trap where the branch skips it) and a dropped
// inf or NaN still gives 0.
template <class T>
void apply_period_mask(const T* in, T* dst, T scale, const uint8_t* keep, int64_t period,
                       int64_t begin, int64_t end) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  int64_t j = begin % period;
  for (int64_t i = begin; i < end;) {
    const int64_t run = std::min(end - i, period - j);  // up to the period's end
    for (int64_t k = 0; k < run; ++k) {
      const Bits all = Bits(0) - static_cast<Bits>(keep[j + k]);
      dst[i + k] = std::bit_cast<T>(std::bit_cast<Bits>(in[i + k] * scale) & all);
    }
    i += run, j = 0;
  }
}

// out = in · mask / (1 − p), or that added into out (or onto `base`, which out then takes: base +
// it); used by forward (x → y) and backward (dy → dx) alike. An added chunk is formed apart, then
// added: old + it rounded once, as axpby adds a written dx (no multiply-add can fuse the product
// with old).
void apply_mask(const Tensor& in, Tensor& out, const DropoutParams& p, const char* what,
                bool add = false, const Tensor& base = Tensor()) {
  dispatch_float(in.dtype(), what, [&]<class scalar_t>() {
    const scalar_t* pin = in.data<scalar_t>();
    scalar_t* pout = out.data<scalar_t>();
    const scalar_t* pbase = base.defined() ? base.data<scalar_t>() : pout;
    const scalar_t scale = dropout_scale<scalar_t>(p.p);
    const int64_t n = in.numel();
    const uint8_t* keep = p.mask_period > 0 ? period_mask(p).data() : nullptr;
    // A Philox block a quad of elements is worth a second thread from two chunks on (the small
    // recurrent step: 111–115 → 108–109 ms against a threshold of 16,384).
#pragma omp parallel if (n > 4096)
    {
      std::vector<scalar_t> formed(add ? kChunk : 0);
#pragma omp for
      for (int64_t begin = 0; begin < n; begin += kChunk) {
        const int64_t end = std::min(begin + kChunk, n);
        scalar_t* dst = add ? formed.data() - begin : pout;
        if (keep)
          apply_period_mask(pin, dst, scale, keep, p.mask_period, begin, end);
        else
          for_each_keep(p.key, p.mask_period, p.p, begin, end, [&](int64_t i, bool kept) {
            dst[i] = kept ? pin[i] * scale : scalar_t(0);
          });
        if (add)
          for (int64_t i = begin; i < end; ++i) pout[i] = pbase[i] + formed[i - begin];
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
  if (dy_dropped.defined())  // the dropped copy's gradient through the mask, onto dy's
    apply_mask(dy_dropped, sum, p, "stack_dropout_backward", dy.defined(), dy);
  cpu::concat_backward(sum, 0, dxs, dx_modes);
}

AN_CPU_KERNELS_END
