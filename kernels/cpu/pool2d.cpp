// CPU reference of the pool2d family: one loop nest per output plane, windows from pool2d_math.h.
#include <vector>

#include "kernels/pool2d_math.h"

namespace autonet::cpu {

namespace {

// Columns [q0, q1) of the outputs whose window lies wholly inside the image along one axis
// (start o·stride − pad ≥ 0 and end o·stride − pad + k ≤ extent).
void interior_range(int k, int stride, int pad, int extent, int n_out, int& q0, int& q1) {
  q0 = (pad + stride - 1) / stride;
  q1 = extent - k + pad < 0 ? 0 : (extent - k + pad) / stride + 1;
  if (q1 > n_out) q1 = n_out;
  if (q0 > q1) q0 = q1;
}

// The interior fast path: DARTS' 3×3 windows at stride 1 or 2 with K and STRIDE fixed at compile
// time, so the window scan unrolls and the loop over output columns vectorises. Windows here need
// no clipping, so the avg divisor is K·K under both count_include_pad rules (what
// pool_avg_divisor returns for an unclipped window), and the max scan keeps pool_argmax's rule:
// first maximum in row-major order (a later value wins only if strictly greater).
template <int K, int STRIDE, class T>
void interior_row_max(const T* xp, const PoolGeometry& g, int oh, int q0, int q1, T* y_row) {
  const T* top = xp + (oh * STRIDE - g.ph) * g.W - g.pw;
  for (int q = q0; q < q1; ++q) {
    const T* win = top + q * STRIDE;
    T best = win[0];
#pragma GCC unroll 8
    for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
      for (int w = 0; w < K; ++w) best = win[h * g.W + w] > best ? win[h * g.W + w] : best;
    y_row[q] = best;
  }
}

template <int K, int STRIDE, class T>
void interior_row_avg(const T* xp, const PoolGeometry& g, int oh, int q0, int q1, T* y_row) {
  const T* top = xp + (oh * STRIDE - g.ph) * g.W - g.pw;
  for (int q = q0; q < q1; ++q) {
    const T* win = top + q * STRIDE;
    T sum = 0;
#pragma GCC unroll 8
    for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
      for (int w = 0; w < K; ++w) sum += win[h * g.W + w];
    y_row[q] = sum / static_cast<T>(K * K);
  }
}

// Calls f.template operator()<K, STRIDE>() for the square 3×3 windows at stride 1 or 2 (DARTS),
// <0, 0> (no fast path) for anything else.
template <class F>
void with_fixed_window(const PoolGeometry& g, F&& f) {
  const bool k3 = g.kh == 3 && g.kw == 3 && g.sh == g.sw;
  if (k3 && g.sh == 1) return f.template operator()<3, 1>();
  if (k3 && g.sh == 2) return f.template operator()<3, 2>();
  return f.template operator()<0, 0>();
}

}  // namespace

void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p) {
  const PoolGeometry g = pool_geometry(p, x.shape(), y.shape());
  const int64_t planes = x.size(0) * x.size(1);
  int r0, r1, q0, q1;  // interior output rows and columns
  interior_range(g.kh, g.sh, g.ph, g.H, g.Ho, r0, r1);
  interior_range(g.kw, g.sw, g.pw, g.W, g.Wo, q0, q1);
  dispatch_float(x.dtype(), "pool2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
    with_fixed_window(g, [&]<int K, int STRIDE>() {
#pragma omp parallel for if (planes * g.Ho * g.Wo > 16384)
      for (int64_t plane = 0; plane < planes; ++plane) {
        const scalar_t* xp = px + plane * g.H * g.W;
        scalar_t* yp = py + plane * g.Ho * g.Wo;
        for (int oh = 0; oh < g.Ho; ++oh) {
          const bool fast_row = K > 0 && oh >= r0 && oh < r1;
          if (fast_row && g.is_max) interior_row_max<K, STRIDE>(xp, g, oh, q0, q1, yp + oh * g.Wo);
          if (fast_row && !g.is_max) interior_row_avg<K, STRIDE>(xp, g, oh, q0, q1, yp + oh * g.Wo);
          for (int ow = 0; ow < g.Wo; ++ow) {
            if (fast_row && ow >= q0 && ow < q1) continue;  // done above
            // The general case: the window clipped to the image.
            const PoolWindow win = pool_window(g, oh, ow);
            if (g.is_max) {
              yp[oh * g.Wo + ow] = xp[pool_argmax(xp, g, win)];
              continue;
            }
            scalar_t sum = 0;
            for (int h = win.h0; h < win.h1; ++h)
              for (int w = win.w0; w < win.w1; ++w) sum += xp[h * g.W + w];
            yp[oh * g.Wo + ow] = sum / static_cast<scalar_t>(pool_avg_divisor(g, oh, ow, win));
          }
        }
      }
    });
  });
}

// dx = Σ over the windows covering each input: dy (max: only at the window's arg-max; avg:
// dy / divisor). Scattered per plane in ascending output order (the order the CUDA twin's gather
// sums in), so planes run in parallel without races. Accumulate scatters into a scratch plane and
// then adds it: dx + (the same sum), as the CUDA twin rounds it.
void pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const Pool2dParams& p,
                     GradMode mode) {
  const PoolGeometry g = pool_geometry(p, x.shape(), dy.shape());
  const int64_t planes = x.size(0) * x.size(1);
  const bool accumulate = mode == GradMode::Accumulate;
  int r0, r1, q0, q1;  // interior output rows and columns
  interior_range(g.kh, g.sh, g.ph, g.H, g.Ho, r0, r1);
  interior_range(g.kw, g.sw, g.pw, g.W, g.Wo, q0, q1);
  dispatch_float(x.dtype(), "pool2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    scalar_t* pdx = dx.data<scalar_t>();        // [N·C, H, W]
    with_fixed_window(g, [&]<int K, int STRIDE>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 16384)
      {
        std::vector<scalar_t> scratch(accumulate ? static_cast<size_t>(g.H) * g.W : 0);
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane) {
          const scalar_t* xp = px + plane * g.H * g.W;
          const scalar_t* dyp = pdy + plane * g.Ho * g.Wo;
          scalar_t* dx_plane = pdx + plane * g.H * g.W;
          scalar_t* dxp = accumulate ? scratch.data() : dx_plane;
          for (int i = 0; i < g.H * g.W; ++i) dxp[i] = scalar_t(0);
          for (int oh = 0; oh < g.Ho; ++oh) {
            const bool fast_row = K > 0 && oh >= r0 && oh < r1;
            if (g.is_max) {
              // (No fast path: the arg-max scan is branchy either way and the scatter dominates.)
              for (int ow = 0; ow < g.Wo; ++ow)
                dxp[pool_argmax(xp, g, pool_window(g, oh, ow))] += dyp[oh * g.Wo + ow];
              continue;
            }
            for (int ow = 0; ow < g.Wo; ++ow) {
              const PoolWindow win = pool_window(g, oh, ow);
              const scalar_t grad = dyp[oh * g.Wo + ow];
              const scalar_t share =
                  grad / static_cast<scalar_t>(pool_avg_divisor(g, oh, ow, win));
              if (fast_row && ow >= q0 && ow < q1) {
                // Interior window: K×K taps known at compile time, no clipping.
                scalar_t* top = dxp + win.h0 * g.W + win.w0;
#pragma GCC unroll 8
                for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
                  for (int w = 0; w < K; ++w) top[h * g.W + w] += share;
                continue;
              }
              for (int h = win.h0; h < win.h1; ++h)
                for (int w = win.w0; w < win.w1; ++w) dxp[h * g.W + w] += share;
            }
          }
          if (accumulate)
            for (int i = 0; i < g.H * g.W; ++i) dx_plane[i] += dxp[i];
        }
      }
    });
  });
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  dispatch_float(x.dtype(), "global_avg_pool_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H·W]
    scalar_t* py = y.data<scalar_t>();        // [N·C]
#pragma omp parallel for if (planes * hw > 65536)
    for (int64_t plane = 0; plane < planes; ++plane) {
      double sum = 0;
      for (int64_t i = 0; i < hw; ++i) sum += px[plane * hw + i];
      py[plane] = static_cast<scalar_t>(sum / static_cast<double>(hw));
    }
  });
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx) {
  const int64_t planes = dx.size(0) * dx.size(1), hw = dx.size(2) * dx.size(3);
  dispatch_float(dx.dtype(), "global_avg_pool_backward", [&]<class scalar_t>() {
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C]
    scalar_t* pdx = dx.data<scalar_t>();        // [N·C, H·W]
#pragma omp parallel for if (planes * hw > 65536)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const scalar_t share = pdy[plane] / static_cast<scalar_t>(hw);
      for (int64_t i = 0; i < hw; ++i) pdx[plane * hw + i] = share;
    }
  });
}

}  // namespace autonet::cpu
