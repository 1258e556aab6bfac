// CPU twin of factorized_reduce: per sample and phase, the ReLU'd pixels of that phase gathered
// as columns [C, Ho·Wo] (what conv2d's im2col gives a 1×1 stride-2 convolution), then conv2d's
// own OpenBLAS GEMMs: y's half = w · columns, dw += dy's half · columnsᵀ, and dx's columns
// w_ᵀ · dy's half scattered back onto their phase through relu'(x). Same columns, same GEMM calls:
// the values of relu → conv2d → slice2d → conv2d → concat bit for bit, without the ReLU'd copy,
// the slice and the concat. Samples run on the OpenMP team as conv2d's do
// (kernels/cpu/sample_loop.h).
#include "kernels/factorized_reduce.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/sample_loop.h"
#include "kernels/gemm.h"

AN_CPU_KERNELS_BEGIN
namespace {

struct Geometry {
  int64_t N, C, H, W, half, Ho, Wo;
  int64_t pixels() const { return Ho * Wo; }
};
Geometry geometry_of(const Tensor& x, const Tensor& w1) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w1.size(0), x.size(2) / 2, x.size(3) / 2};
}

// col [C, Ho·Wo] of sample xn [C, H, W] at `phase` (0: even rows and columns, 1: odd):
// col[c, (i, j)] = relu(xn[c, 2i + phase, 2j + phase]).
template <class T>
void gather_relu(const T* xn, const Geometry& g, int64_t phase, T* col) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.Ho; ++i) {
      const T* row = xn + (c * g.H + 2 * i + phase) * g.W + phase;
      T* out = col + (c * g.Ho + i) * g.Wo;
      for (int64_t j = 0; j < g.Wo; ++j) out[j] = row[2 * j] > T(0) ? row[2 * j] : T(0);
    }
}

// dxn [C, H, W] at `phase` gets dcol [C, Ho·Wo] times relu'(xn) (written or added): a product, as
// the ReLU's own backward takes it (so a negative sum masked off gives −0 there too).
template <class T>
void scatter_masked(const T* dcol, const T* xn, const Geometry& g, int64_t phase, bool accumulate,
                    T* dxn) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.Ho; ++i) {
      const int64_t at = (c * g.H + 2 * i + phase) * g.W + phase;
      const T* in = dcol + (c * g.Ho + i) * g.Wo;
      for (int64_t j = 0; j < g.Wo; ++j) {
        const T grad = in[j] * (xn[at + 2 * j] > T(0) ? T(1) : T(0));
        dxn[at + 2 * j] = accumulate ? dxn[at + 2 * j] + grad : grad;
      }
    }
}

// Pixels of neither phase (even row and odd column, or odd row and even column): no gradient.
template <class T>
void zero_off_phase(const Geometry& g, T* dxn) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h)
      for (int64_t w = 1 - h % 2; w < g.W; w += 2) dxn[(c * g.H + h) * g.W + w] = T(0);
}

// Sample n's half `phase` of y or dy: [Co/2, Ho·Wo], rows Ho·Wo apart (a contiguous view).
Tensor half_of(const Tensor& t, int64_t n, int64_t phase, const Geometry& g) {
  return t.select(0, n)
      .view({2 * g.half, g.pixels()})
      .slice(0, phase * g.half, (phase + 1) * g.half);
}

}  // namespace

void factorized_reduce_forward(const Tensor& x, const Tensor& w1, const Tensor& w2, Tensor& y) {
  const Geometry g = geometry_of(x, w1);
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), "factorized_reduce_forward", [&]<class scalar_t>() {
    const Tensor ws[2] = {w1.view({g.half, g.C}), w2.view({g.half, g.C})};
#pragma omp parallel if (samples_in_parallel(g.N))
    {
      Tensor col = Tensor::empty({g.C, g.pixels()}, x.dtype());
#pragma omp for
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t phase = 0; phase < 2; ++phase) {
          gather_relu(x.select(0, n).data<scalar_t>(), g, phase, col.data<scalar_t>());
          Tensor yn = half_of(y, n, phase, g);
          cpu::gemm(ws[phase], col, yn, {});
        }
    }
  });
}

void factorized_reduce_backward(const Tensor& x, const Tensor& w1, const Tensor& w2,
                                const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& dw2,
                                GradMode dx_mode) {
  const Geometry g = geometry_of(x, w1);
  const bool accumulate = dx_mode == GradMode::Accumulate;
  dispatch_float(x.dtype(), "factorized_reduce_backward", [&]<class scalar_t>() {
    const Tensor ws[2] = {w1.view({g.half, g.C}), w2.view({g.half, g.C})};
    SampleWeightGrad dw_sums[2] = {SampleWeightGrad(dw1, g.N), SampleWeightGrad(dw2, g.N)};
#pragma omp parallel if (dw_sums[0].parallel() && dw_sums[1].parallel())
    {
      Tensor col = Tensor::empty({g.C, g.pixels()}, x.dtype());
#pragma omp for
      for (int64_t n = 0; n < g.N; ++n) {
        const scalar_t* xn = x.select(0, n).data<scalar_t>();
        for (int64_t phase = 0; phase < 2; ++phase)
          if (dw_sums[phase].defined()) {  // dw [Co/2, C] (+)= dy's half · colᵀ
            gather_relu(xn, g, phase, col.data<scalar_t>());
            Tensor target = dw_sums[phase].target(n).view({g.half, g.C});
            cpu::gemm(half_of(dy, n, phase, g), col, target,
                      {.trans_b = true, .beta = dw_sums[phase].beta()});
          }
        if (!dx.defined()) continue;
        scalar_t* dxn = dx.select(0, n).data<scalar_t>();
        if (!accumulate) zero_off_phase(g, dxn);
        for (int64_t phase = 0; phase < 2; ++phase) {  // dcol [C, Ho·Wo] = wᵀ · dy's half
          cpu::gemm(ws[phase], half_of(dy, n, phase, g), col, {.trans_a = true});
          scatter_masked(col.data<scalar_t>(), xn, g, phase, accumulate, dxn);
        }
      }
    }
    dw_sums[0].finish();
    dw_sums[1].finish();
  });
}

AN_CPU_KERNELS_END
