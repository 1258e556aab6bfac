// CPU reference of depthwise_conv2d: the convolution sum written out, one (n, c) plane at a time.
//
// Every plane is first copied into a zero-bordered buffer (ReLU and a folded batch norm applied on
// the way), so the tap loops below read like the formula with no bounds tests. At stride k the
// buffer is split into its k×k phases (rows ≡ a, columns ≡ b mod k), which turns every strided
// tap into a contiguous one: the stride-2 reduction edges vectorise like the stride-1 ones. Each
// plane is then one run (rows laid end to end) summed a few taps a pass. Sums run in scalar_t like
// the CUDA twin's (≤ R·S terms per output); only dw's long sum over N·Ho·Wo goes through double,
// per plane and then across planes.
#include <vector>

#include "kernels/cpu/depthwise_conv2d_normalized.h"
#include "kernels/cpu/depthwise_planes.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

using namespace depthwise_planes;

// y[n,c,oh,ow] = Σ_{r,s} w[c,r,s] · relu?(x[n,c, oh·stride − pad_h + r·dil, ow·stride − pad_w + s·dil])
void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p) {
  depthwise_conv2d_forward_normalized(x, w, y, p, Tensor(), Tensor());
}

void depthwise_conv2d_forward_normalized(const Tensor& x, const Tensor& w, Tensor& y,
                                         const DepthwiseConv2dParams& p, const Tensor& mean,
                                         const Tensor& invstd) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), y.shape(), p);
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "depthwise_conv2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();  // [C, R, S]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
    const InputPlan plan(g);
    with_stride(g.stride, [&]<int K>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 8192)
      {
        PlaneScratch<scalar_t> scratch;  // per thread
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane)
          forward_plane<K>(plan, g, px + plane * g.H * g.W, pw + (plane % g.C) * g.R * g.S,
                           plane_norm<scalar_t>(mean, invstd, plane, g.C), py + plane * g.Ho * g.Wo,
                           scratch);
      }
    });
  });
}

// dx[n,c,ih,iw] (=|+=) relu'(x) · Σ over the (output, tap) pairs that read (ih, iw) of w·dy;
// dw[c,r,s] += Σ_{n,oh,ow} dy · relu?(x at that tap) (accumulated). Accumulating dx computes the
// plane's sum apart and then adds it: dx + (the same sum), as the CUDA twin rounds it.
void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p, GradMode dx_mode) {
  depthwise_conv2d_backward_normalized(x, w, dy, dx, dw, p, dx_mode, Tensor(), Tensor());
}

void depthwise_conv2d_backward_normalized(const Tensor& x, const Tensor& w, const Tensor& dy,
                                          Tensor& dx, Tensor& dw, const DepthwiseConv2dParams& p,
                                          GradMode dx_mode, const Tensor& mean,
                                          const Tensor& invstd) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), dy.shape(), p);
  const int64_t N = x.size(0), planes = N * g.C;
  const int taps = g.R * g.S;
  const bool accumulate = dx_mode == GradMode::Accumulate;
  // dw per plane in double, reduced per channel after the parallel loop (no shared writes, and
  // the result does not depend on the thread count).
  std::vector<double> plane_dw(dw.defined() ? static_cast<size_t>(planes) * taps : 0);
  dispatch_float(x.dtype(), "depthwise_conv2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();    // [C, R, S]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    scalar_t* pdx = dx.defined() ? dx.data<scalar_t>() : nullptr;  // [N·C, H, W]
    const InputPlan plan(g);
    const InputGradientPlan dx_plan(g);
    with_stride(g.stride, [&]<int K>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 8192)
      {
        PlaneScratch<scalar_t> scratch;  // per thread
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane)
          backward_plane<K>(plan, dx_plan, g, px + plane * g.H * g.W, pdy + plane * g.Ho * g.Wo,
                            pw + (plane % g.C) * taps,
                            plane_norm<scalar_t>(mean, invstd, plane, g.C),
                            pdx ? pdx + plane * g.H * g.W : nullptr, accumulate,
                            plane_dw.empty() ? nullptr : plane_dw.data() + plane * taps, scratch);
      }
    });
    if (dw.defined()) add_plane_weight_sums(plane_dw, N, g.C, taps, dw.data<scalar_t>());
  });
}

AN_CPU_KERNELS_END
