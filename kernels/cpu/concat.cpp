// CPU reference of the concat family: block copies for concat/split, index loops for slice2d.
#include <cstring>
#include <vector>

#include "kernels/concat_math.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
// Copies between part k [outer, size_k, inner] and its window of y [outer, total, inner].
template <class T>
void copy_part(T* part, T* y, const ConcatGeometry& g, size_t k, bool to_y) {
  const int64_t block = g.axis_sizes[k] * g.inner;  // contiguous run per outer index
  if (block == 0) return;
#pragma omp parallel for if (g.outer * block > 65536)
  for (int64_t o = 0; o < g.outer; ++o) {
    T* window = y + (o * g.total_axis + g.axis_offsets[k]) * g.inner;
    if (to_y)
      std::memcpy(window, part + o * block, block * sizeof(T));
    else
      std::memcpy(part + o * block, window, block * sizeof(T));
  }
}

// part k += its window of y (old + it, once rounded, as axpby adds).
template <class T>
void add_part(T* part, const T* y, const ConcatGeometry& g, size_t k) {
  const int64_t block = g.axis_sizes[k] * g.inner;
#pragma omp parallel for if (g.outer * block > 65536)
  for (int64_t o = 0; o < g.outer; ++o) {
    const T* window = y + (o * g.total_axis + g.axis_offsets[k]) * g.inner;
    T* dst = part + o * block;
    for (int64_t i = 0; i < block; ++i) dst[i] += window[i];
  }
}
}  // namespace

void concat_forward(const std::vector<Tensor>& xs, int64_t axis, Tensor& y) {
  const ConcatGeometry g = concat_geometry(y.shape(), xs, axis);
  dispatch_float(y.dtype(), "concat_forward", [&]<class scalar_t>() {
    for (size_t k = 0; k < xs.size(); ++k)
      copy_part(xs[k].data<scalar_t>(), y.data<scalar_t>(), g, k, /*to_y=*/true);
  });
}

void concat_backward(const Tensor& dy, int64_t axis, std::vector<Tensor>& dxs,
                     const std::vector<GradMode>& dx_modes) {
  const ConcatGeometry g = concat_geometry(dy.shape(), dxs, axis);
  dispatch_float(dy.dtype(), "concat_backward", [&]<class scalar_t>() {
    for (size_t k = 0; k < dxs.size(); ++k) {
      if (!dxs[k].defined()) continue;
      if (!dx_modes.empty() && dx_modes[k] == GradMode::Accumulate)
        add_part(dxs[k].data<scalar_t>(), dy.data<scalar_t>(), g, k);
      else
        copy_part(dxs[k].data<scalar_t>(), dy.data<scalar_t>(), g, k, /*to_y=*/false);
    }
  });
}

void slice2d_forward(const Tensor& x, Tensor& y, const Slice2dParams& p) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  dispatch_float(x.dtype(), "slice2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // x [N·C, H, W]
    scalar_t* py = y.data<scalar_t>();        // y [N·C, out_h, out_w]
#pragma omp parallel for if (y.numel() > 65536)
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t i = 0; i < p.out_h; ++i)
        for (int64_t j = 0; j < p.out_w; ++j)
          py[(plane * p.out_h + i) * p.out_w + j] =
              px[(plane * h + p.offset_h + i * p.stride_h) * w + p.offset_w + j * p.stride_w];
  });
}

// An added plane is formed apart and then added whole: old + (dy or 0) everywhere, as writing it
// and adding it with axpby gives.
void slice2d_backward(const Tensor& dy, Tensor& dx, const Slice2dParams& p, GradMode dx_mode) {
  const int64_t planes = dx.size(0) * dx.size(1), h = dx.size(2), w = dx.size(3);
  const bool accumulate = dx_mode == GradMode::Accumulate;
  dispatch_float(dy.dtype(), "slice2d_backward", [&]<class scalar_t>() {
    const scalar_t* pdy = dy.data<scalar_t>();  // dy [N·C, out_h, out_w]
    scalar_t* pdx = dx.data<scalar_t>();        // dx [N·C, H, W]
#pragma omp parallel if (dx.numel() > 65536)
    {
      std::vector<scalar_t> apart(accumulate ? h * w : 0);
#pragma omp for
      for (int64_t plane = 0; plane < planes; ++plane) {
        scalar_t* out = accumulate ? apart.data() : pdx + plane * h * w;
        std::memset(out, 0, h * w * sizeof(scalar_t));
        for (int64_t i = 0; i < p.out_h; ++i)
          for (int64_t j = 0; j < p.out_w; ++j)
            out[(p.offset_h + i * p.stride_h) * w + p.offset_w + j * p.stride_w] =
                pdy[(plane * p.out_h + i) * p.out_w + j];
        if (accumulate)
          for (int64_t e = 0; e < h * w; ++e) pdx[plane * h * w + e] += out[e];
      }
    }
  });
}

AN_CPU_KERNELS_END
