// CPU reference of the pool2d family, a plane at a time: DARTS' 3×3 windows on framed planes, any
// other window clipped to the image (windows, divisors and arg-max rule from pool2d_math.h).
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/pool_planes.h"

AN_CPU_KERNELS_BEGIN

using namespace pool_planes;

void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p) {
  const PoolGeometry g = pool_geometry(p, x.shape(), y.shape());
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "pool2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
    const std::vector<scalar_t> divisors =
        g.is_max ? std::vector<scalar_t>() : avg_divisors<scalar_t>(g);
    with_fixed_window(g, [&]<int K, int STRIDE>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 16384)
      {
        PoolScratch<scalar_t> scratch;  // per thread
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane)
          forward_plane<K, STRIDE>(g, px + plane * g.H * g.W, divisors.data(),
                                   py + plane * g.Ho * g.Wo, scratch);
      }
    });
  });
}

// dx = Σ over the windows covering each input: dy (max: only at the window's arg-max; avg:
// dy / divisor), scattered per plane in ascending output order, so planes run in parallel without
// races. Accumulate forms the plane's sum apart and then adds it: dx + (the same sum), as the CUDA
// twin rounds it.
void pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const Pool2dParams& p,
                     GradMode mode) {
  const PoolGeometry g = pool_geometry(p, x.shape(), dy.shape());
  const int64_t planes = x.size(0) * x.size(1);
  const bool accumulate = mode == GradMode::Accumulate;
  dispatch_float(x.dtype(), "pool2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    scalar_t* pdx = dx.data<scalar_t>();        // [N·C, H, W]
    const std::vector<scalar_t> divisors =
        g.is_max ? std::vector<scalar_t>() : avg_divisors<scalar_t>(g);
    with_fixed_window(g, [&]<int K, int STRIDE>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 16384)
      {
        PoolScratch<scalar_t> scratch;  // per thread
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane)
          backward_plane<K, STRIDE>(g, px + plane * g.H * g.W, pdy + plane * g.Ho * g.Wo,
                                    divisors.data(), pdx + plane * g.H * g.W, accumulate, scratch);
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

AN_CPU_KERNELS_END
