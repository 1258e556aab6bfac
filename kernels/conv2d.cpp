// Public entries of the conv2d family: validate once, then dispatch to a twin.
#include "kernels/conv2d.h"

#include "kernels/conv2d_geometry.h"
#include "kernels/op_cost.h"

#include <climits>

namespace autonet {

namespace {
// x and weight, and the GEMM dimensions they imply fitting BLAS's int; returns y's shape.
Shape check_operands(const Tensor& x, const Tensor& w, const Conv2dParams& p, const char* x_what,
                     const char* w_what) {
  check_float_tensor(x, 4, x_what);
  check_float_tensor(w, 4, w_what);  // [K, C, R, S]
  check_matches(w, x, w_what);
  const Shape y = conv2d_out_shape(x.shape(), w.shape(), p);
  AN_CHECK(w.size(1) * w.size(2) * w.size(3) <= INT_MAX && y[2] * y[3] <= INT_MAX)
      << x_what << ": the im2col matrix exceeds BLAS's int range (x " << x.describe()
      << ", weight " << w.describe() << ")";
  return y;
}
// The CUDA twin (cuda/conv2d.cu): a pointwise conv is one strided batched GEMM on NCHW (+ a bias
// kernel); any other, per chunk of samples, im2col, the GEMM, and the output moved back to NCHW
// (+ bias).
OpCost conv2d_forward_cost(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                           const Conv2dGeometry& g) {
  if (y.numel() == 0) return {};
  const int64_t flops = 2 * g.K * g.rows() * g.N * g.pixels();
  if (g.pointwise()) {
    OpCost cost = library_call(bytes_of(x, w), bytes_of(y), flops);
    if (bias.defined()) cost += launch(bytes_of(bias, y), bytes_of(y), y.numel());
    return cost;
  }
  const int64_t esize = static_cast<int64_t>(dtype_size(x.dtype()));
  const int64_t chunk = conv2d_chunk_samples(g);
  OpCost cost;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t batch = std::min(chunk, g.N - n0), width = batch * g.pixels();
    const int64_t x_part = batch * g.C * g.H * g.W * esize, col = g.rows() * width * esize;
    const int64_t out = g.K * width * esize;
    cost += launch(x_part, col) +
            library_call(g.K * g.rows() * esize + col, out, 2 * g.K * g.rows() * width) +
            launch(out + bytes_of(bias), out);
  }
  return cost;
}

// Backward: the bias sum; pointwise, the dx GEMM and the dw GEMM into per-sample partials [N, K, C]
// then their sum; otherwise per chunk dy moved channel-major, col and the dw GEMM, the dcol GEMM
// and dcol moved (col2im) into dx.
OpCost conv2d_backward_cost(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                            const Tensor& dw, const Tensor& dbias, const Conv2dGeometry& g,
                            GradMode dx_mode) {
  OpCost cost;
  if (dbias.defined() && g.K > 0) cost += launch(bytes_of(dy), bytes_of(dbias), dy.numel());
  if ((!dx.defined() && !dw.defined()) || dy.numel() == 0) return cost;
  const int64_t esize = static_cast<int64_t>(dtype_size(x.dtype()));
  const bool accumulate = dx_mode == GradMode::Accumulate;  // dx read as well as written
  if (g.pointwise()) {
    const int64_t flops = 2 * g.K * g.C * g.N * g.pixels(), partial = g.N * bytes_of(w);
    if (dx.defined())
      cost += library_call(bytes_of(dy, w) + (accumulate ? bytes_of(dx) : 0), bytes_of(dx), flops);
    if (dw.defined())
      cost += library_call(bytes_of(dy, x), partial, flops) +
              launch(partial + bytes_of(dw), bytes_of(dw));
    return cost;
  }
  const int64_t chunk = conv2d_chunk_samples(g), weights = g.K * g.rows() * esize;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t batch = std::min(chunk, g.N - n0), width = batch * g.pixels();
    const int64_t x_part = batch * g.C * g.H * g.W * esize, col = g.rows() * width * esize;
    const int64_t dyc = g.K * width * esize, gemm_flops = 2 * g.K * g.rows() * width;
    cost += launch(dyc, dyc);
    if (dw.defined())
      cost += launch(x_part, col) + library_call(dyc + col + weights, weights, gemm_flops);
    if (dx.defined())
      cost += library_call(weights + dyc, col, gemm_flops) +
              launch(col + (accumulate ? x_part : 0), x_part);
  }
  return cost;
}

}  // namespace

Shape conv2d_out_shape(const Shape& x, const Shape& weight, const Conv2dParams& p) {
  AN_CHECK(x.size() == 4) << "conv2d: x must be [N, C, H, W], got " << shape_str(x);
  AN_CHECK(weight.size() == 4) << "conv2d: weight must be [K, C, R, S], got " << shape_str(weight);
  AN_CHECK(weight[1] == x[1]) << "conv2d: weight " << shape_str(weight) << " takes " << weight[1]
                              << " channels, x " << shape_str(x) << " has " << x[1];
  AN_CHECK(weight[2] >= 1 && weight[3] >= 1) << "conv2d: empty kernel " << shape_str(weight);
  AN_CHECK(p.stride_h >= 1 && p.stride_w >= 1)
      << "conv2d: stride must be >= 1, got " << p.stride_h << "x" << p.stride_w;
  AN_CHECK(p.pad_h >= 0 && p.pad_w >= 0)
      << "conv2d: padding must be >= 0, got " << p.pad_h << "x" << p.pad_w;
  AN_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1)
      << "conv2d: dilation must be >= 1, got " << p.dilation_h << "x" << p.dilation_w;
  const int64_t span_h = p.dilation_h * (weight[2] - 1) + 1;
  const int64_t span_w = p.dilation_w * (weight[3] - 1) + 1;
  AN_CHECK(x[2] + 2 * p.pad_h >= span_h && x[3] + 2 * p.pad_w >= span_w)
      << "conv2d: the (dilated) kernel spans " << span_h << "x" << span_w
      << ", larger than the padded input of x " << shape_str(x) << " (padding " << p.pad_h << "x"
      << p.pad_w << ")";
  return {x[0], weight[0], (x[2] + 2 * p.pad_h - span_h) / p.stride_h + 1,
          (x[3] + 2 * p.pad_w - span_w) / p.stride_w + 1};
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                    const Conv2dParams& p) {
  const Shape out = check_operands(x, w, p, "conv2d_forward: x", "conv2d_forward: weight");
  check_matches_if_defined(bias, x, {w.size(0)}, "conv2d_forward: bias");
  check_matches(y, x, out, "conv2d_forward: y");
  AN_CHECK(!overlaps(y, x) && !overlaps(y, w) && !overlaps(y, bias))
      << "conv2d_forward: y " << y.describe() << " overlaps an input";
  count_op("conv2d_forward", [&] {
    return conv2d_forward_cost(x, w, bias, y, conv2d_geometry(x.shape(), w.shape(), p));
  });
  AN_ON_DEVICE(x.device(), cpu::conv2d_forward(x, w, bias, y, p),
               cuda::conv2d_forward(x, w, bias, y, p));
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                     Tensor& dbias, const Conv2dParams& p, GradMode dx_mode) {
  const Shape out = check_operands(x, w, p, "conv2d_backward: x", "conv2d_backward: weight");
  check_matches(dy, x, out, "conv2d_backward: dy");
  check_matches_if_defined(dx, x, x.shape(), "conv2d_backward: dx");
  check_matches_if_defined(dw, x, w.shape(), "conv2d_backward: dweight");
  check_matches_if_defined(dbias, x, {w.size(0)}, "conv2d_backward: dbias");
  for (const Tensor* g : {&dx, &dw, &dbias})
    AN_CHECK(!overlaps(*g, x) && !overlaps(*g, w) && !overlaps(*g, dy))
        << "conv2d_backward: gradient " << g->describe() << " overlaps an input";
  count_op("conv2d_backward", [&] {
    return conv2d_backward_cost(x, w, dy, dx, dw, dbias, conv2d_geometry(x.shape(), w.shape(), p),
                                dx_mode);
  });
  AN_ON_DEVICE(x.device(), cpu::conv2d_backward(x, w, dy, dx, dw, dbias, p, dx_mode),
               cuda::conv2d_backward(x, w, dy, dx, dw, dbias, p, dx_mode));
}

}  // namespace autonet
