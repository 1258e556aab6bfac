// CPU reference of the pool2d family: one loop nest per output plane, windows from pool2d_math.h.
#include "kernels/pool2d_math.h"

namespace autonet::cpu {

void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p) {
  const PoolGeometry g = pool_geometry(p, x.shape(), y.shape());
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "pool2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
#pragma omp parallel for if (planes * g.Ho * g.Wo > 16384)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const scalar_t* xp = px + plane * g.H * g.W;
      scalar_t* yp = py + plane * g.Ho * g.Wo;
      for (int oh = 0; oh < g.Ho; ++oh)
        for (int ow = 0; ow < g.Wo; ++ow) {
          const PoolWindow win = pool_window(g, oh, ow);
          if (g.is_max) {
            yp[oh * g.Wo + ow] = xp[pool_argmax(xp, g, win)];
            continue;
          }
          double sum = 0;
          for (int h = win.h0; h < win.h1; ++h)
            for (int w = win.w0; w < win.w1; ++w) sum += xp[h * g.W + w];
          yp[oh * g.Wo + ow] = static_cast<scalar_t>(sum / pool_avg_divisor(g, oh, ow, win));
        }
    }
  });
}

// dx = Σ over the windows covering each input: dy (max: only at the window's arg-max; avg:
// dy / divisor). Scattered per plane, so planes run in parallel without races.
void pool2d_backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx,
                     const Pool2dParams& p) {
  const PoolGeometry g = pool_geometry(p, x.shape(), dy.shape());
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "pool2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    scalar_t* pdx = dx.data<scalar_t>();        // [N·C, H, W]
#pragma omp parallel for if (planes * g.Ho * g.Wo > 16384)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const scalar_t* xp = px + plane * g.H * g.W;
      const scalar_t* dyp = pdy + plane * g.Ho * g.Wo;
      scalar_t* dxp = pdx + plane * g.H * g.W;
      for (int i = 0; i < g.H * g.W; ++i) dxp[i] = scalar_t(0);
      for (int oh = 0; oh < g.Ho; ++oh)
        for (int ow = 0; ow < g.Wo; ++ow) {
          const PoolWindow win = pool_window(g, oh, ow);
          const scalar_t grad = dyp[oh * g.Wo + ow];
          if (g.is_max) {
            dxp[pool_argmax(xp, g, win)] += grad;
            continue;
          }
          const scalar_t share = grad / static_cast<scalar_t>(pool_avg_divisor(g, oh, ow, win));
          for (int h = win.h0; h < win.h1; ++h)
            for (int w = win.w0; w < win.w1; ++w) dxp[h * g.W + w] += share;
        }
    }
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
