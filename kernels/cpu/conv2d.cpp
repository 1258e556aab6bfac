// CPU twin of conv2d: im2col + OpenBLAS GEMM, one sample at a time.
//
// Per-sample im2col bounds the workspace to one col [C·R·S, Ho·Wo] per thread (27×1024 floats for
// the DARTS stem) whatever the batch, and each sample's GEMM writes y[n] [K, Ho·Wo] in place in
// NCHW, so no layout shuffle is needed. Samples run on the OpenMP team (kernels/cpu/sample_loop.h);
// the weight gradient is formed per sample and summed in sample order.
#include <vector>

#include "kernels/conv2d_geometry.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/sample_loop.h"
#include "kernels/gemm.h"

AN_CPU_KERNELS_BEGIN
namespace {

// col [C·R·S, Ho·Wo] of one sample x [C, H, W]: row (c, r, s), column (oh, ow) holds
// x[c, oh·sh − ph + r·dh, ow·sw − pw + s·dw], 0 in the padding.
template <class T>
void im2col(const T* x, const Conv2dGeometry& g, T* col) {
  const int64_t rows = g.rows(), pixels = g.pixels();
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t c = row / (g.R * g.S), r = (row / g.S) % g.R, s = row % g.S;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      T* out = col + row * pixels + oh * g.Wo;
      const int64_t ih = oh * g.sh - g.ph + r * g.dh;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const int64_t iw = ow * g.sw - g.pw + s * g.dw;
        const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        out[ow] = inside ? x[(c * g.H + ih) * g.W + iw] : T(0);
      }
    }
  }
}

// The adjoint of im2col: dx [C, H, W] (written) gets every dcol entry added back onto the pixel
// it was copied from. Taps are visited in (r, s) order, as in the CUDA gather.
template <class T>
void col2im(const T* dcol, const Conv2dGeometry& g, T* dx) {
  const int64_t pixels = g.pixels();
  for (int64_t c = 0; c < g.C; ++c) {  // channel c's rows only touch dx[c]
    T* dxc = dx + c * g.H * g.W;
    for (int64_t i = 0; i < g.H * g.W; ++i) dxc[i] = T(0);
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        const T* in = dcol + ((c * g.R + r) * g.S + s) * pixels;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t iw = ow * g.sw - g.pw + s * g.dw;
            if (iw >= 0 && iw < g.W) dxc[ih * g.W + iw] += in[oh * g.Wo + ow];
          }
        }
      }
    }
  }
}

// Sample n's im2col matrix: x[n] itself for a pointwise conv, else filled into `col`.
template <class T>
Tensor sample_columns(const Tensor& x, int64_t n, const Conv2dGeometry& g, Tensor& col) {
  if (g.pointwise()) return x.select(0, n).view({g.C, g.H * g.W});
  im2col(x.select(0, n).data<T>(), g, col.data<T>());
  return col;
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                    const Conv2dParams& p) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  dispatch_float(x.dtype(), "conv2d_forward", [&]<class scalar_t>() {
    const Tensor w2 = w.view({g.K, g.rows()});  // [K, C·R·S]
#pragma omp parallel if (samples_in_parallel(g.N))
    {
      Tensor col = g.pointwise() ? Tensor() : Tensor::empty({g.rows(), g.pixels()}, x.dtype());
#pragma omp for
      for (int64_t n = 0; n < g.N; ++n) {
        Tensor yn = y.select(0, n).view({g.K, g.pixels()});  // [K, Ho·Wo]
        cpu::gemm(w2, sample_columns<scalar_t>(x, n, g, col), yn, {});
        if (!bias.defined()) continue;
        const scalar_t* pb = bias.data<scalar_t>();
        scalar_t* py = yn.data<scalar_t>();
        for (int64_t k = 0; k < g.K; ++k)
          for (int64_t q = 0; q < g.pixels(); ++q) py[k * g.pixels() + q] += pb[k];
      }
    }
  });
}

// An added dx is formed a sample at a time apart and then added: old + dx rounds once, exactly as
// writing dx and adding it with axpby does.
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                     Tensor& dbias, const Conv2dParams& p, GradMode dx_mode) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  dispatch_float(x.dtype(), "conv2d_backward", [&]<class scalar_t>() {
    const Tensor w2 = w.view({g.K, g.rows()});  // [K, C·R·S]
    const bool need_col = !g.pointwise() && (dw.defined() || dx.defined());
    const bool accumulate = dx.defined() && dx_mode == GradMode::Accumulate;
    SampleWeightGrad dw_sum(dw, g.N);
#pragma omp parallel if (dw_sum.parallel())
    {
      Tensor col = need_col ? Tensor::empty({g.rows(), g.pixels()}, x.dtype()) : Tensor();
      Tensor sample_dx = accumulate ? Tensor::empty({g.C, g.H, g.W}, x.dtype()) : Tensor();
#pragma omp for
      for (int64_t n = 0; n < g.N; ++n) {
        const Tensor dyn = dy.select(0, n).view({g.K, g.pixels()});  // [K, Ho·Wo]
        if (dw_sum.defined()) {  // dw [K, C·R·S] (+)= dy[n] · col[n]ᵀ
          Tensor target = dw_sum.target(n).view({g.K, g.rows()});
          cpu::gemm(dyn, sample_columns<scalar_t>(x, n, g, col), target,
                    {.trans_b = true, .beta = dw_sum.beta()});
        }
        if (!dx.defined()) continue;
        Tensor dxn = accumulate ? sample_dx : dx.select(0, n);  // [C, H, W]
        if (g.pointwise()) {  // dx[n] [C, H·W] = weightᵀ · dy[n]
          Tensor dxn2 = dxn.view({g.C, g.H * g.W});
          cpu::gemm(w2, dyn, dxn2, {.trans_a = true});
        } else {  // dcol = weightᵀ · dy[n], then scattered back onto the pixels it came from
          cpu::gemm(w2, dyn, col, {.trans_a = true});
          col2im(col.data<scalar_t>(), g, dxn.data<scalar_t>());
        }
        if (accumulate) {
          scalar_t* pd = dx.select(0, n).data<scalar_t>();
          const scalar_t* ps = sample_dx.data<scalar_t>();
          for (int64_t i = 0; i < sample_dx.numel(); ++i) pd[i] += ps[i];
        }
      }
    }
    dw_sum.finish();
    if (dbias.defined()) {  // dbias[k] += Σ_{n,q} dy[n, k, q], in double
      std::vector<double> bias_sum(g.K, 0.0);
      const scalar_t* pdy = dy.data<scalar_t>();
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t k = 0; k < g.K; ++k)
          for (int64_t q = 0; q < g.pixels(); ++q)
            bias_sum[k] += pdy[(n * g.K + k) * g.pixels() + q];
      scalar_t* pdb = dbias.data<scalar_t>();
      for (int64_t k = 0; k < g.K; ++k) pdb[k] += static_cast<scalar_t>(bias_sum[k]);
    }
  });
}

AN_CPU_KERNELS_END
