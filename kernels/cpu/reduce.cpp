// CPU reference of the reduction family: plain loops over [outer, axis, inner], double sums.
#include <algorithm>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/reduce_math.h"

AN_CPU_KERNELS_BEGIN

void reduce_forward(ReduceOp op, const Tensor& x, int64_t axis, Tensor& y) {
  const ReduceGeometry g = reduce_geometry(x.shape(), axis);
  dispatch_float(x.dtype(), "reduce_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // x [outer, axis, inner]
    scalar_t* py = y.data<scalar_t>();        // y [outer, inner]
#pragma omp parallel for if (g.outer * g.axis * g.inner > 65536)
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        const scalar_t* column = px + o * g.axis * g.inner + i;
        if (op == ReduceOp::max) {
          py[o * g.inner + i] = column[first_argmax(column, g.axis, g.inner) * g.inner];
          continue;
        }
        double sum = 0;
        for (int64_t a = 0; a < g.axis; ++a) sum += column[a * g.inner];
        py[o * g.inner + i] = static_cast<scalar_t>(op == ReduceOp::mean ? sum / g.axis : sum);
      }
    }
  });
}

void reduce_backward(ReduceOp op, const Tensor& x, const Tensor&, const Tensor& dy, int64_t axis,
                     Tensor& dx) {
  const ReduceGeometry g = reduce_geometry(x.shape(), axis);
  dispatch_float(x.dtype(), "reduce_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // x [outer, axis, inner]
    const scalar_t* pdy = dy.data<scalar_t>();  // dy [outer, inner]
    scalar_t* pdx = dx.data<scalar_t>();        // dx [outer, axis, inner]
#pragma omp parallel for if (g.outer * g.axis * g.inner > 65536)
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t base = o * g.axis * g.inner + i;
        const scalar_t grad = pdy[o * g.inner + i];
        if (op == ReduceOp::max) {
          const int64_t best = first_argmax(px + base, g.axis, g.inner);
          for (int64_t a = 0; a < g.axis; ++a)
            pdx[base + a * g.inner] = a == best ? grad : scalar_t(0);
          continue;
        }
        const scalar_t value = op == ReduceOp::mean ? grad / static_cast<scalar_t>(g.axis) : grad;
        for (int64_t a = 0; a < g.axis; ++a) pdx[base + a * g.inner] = value;
      }
    }
  });
}

void sum_of_squares(const Tensor& x, Tensor& out, GradMode mode) {
  const int64_t n = x.numel();
  double total = 0;
  dispatch_float(x.dtype(), "sum_of_squares", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();
    const int64_t chunk = (n + kSumOfSquaresChunks - 1) / kSumOfSquaresChunks;
    std::vector<double> partial(kSumOfSquaresChunks, 0.0);
#pragma omp parallel for if (n > 65536)
    for (int64_t c = 0; c < kSumOfSquaresChunks; ++c) {
      double s = 0;
      const int64_t end = std::min(n, (c + 1) * chunk);
      for (int64_t i = c * chunk; i < end; ++i) s += static_cast<double>(px[i]) * px[i];
      partial[c] = s;
    }
    for (double s : partial) total += s;
  });
  dispatch_float(out.dtype(), "sum_of_squares", [&]<class out_t>() {
    out_t* po = out.data<out_t>();
    po[0] = static_cast<out_t>(mode == GradMode::Accumulate ? po[0] + total : total);
  });
}

void scale_to_max_norm(Tensor& grad, const Tensor& sum_sq, double max_norm, Tensor& norm) {
  const double s = sum_sq.data<double>()[0];
  norm.data<double>()[0] = std::sqrt(s);
  const double factor = clip_factor(s, max_norm);
  if (!(factor < 1.0)) return;
  const int64_t n = grad.numel();
  dispatch_float(grad.dtype(), "scale_to_max_norm", [&]<class scalar_t>() {
    scalar_t* pg = grad.data<scalar_t>();
    const scalar_t f = static_cast<scalar_t>(factor);
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) pg[i] *= f;
  });
}

void central_difference_scales(const Tensor& sum_sq, double step, Tensor& scales) {
  const CentralDifference d = central_difference(sum_sq.data<double>()[0], step);
  double* out = scales.data<double>();
  out[0] = d.norm, out[1] = d.radius, out[2] = d.inverse_width;
}

void clip_coefficient(const Tensor& norm, double max_norm, Tensor& coefficient) {
  coefficient.data<double>()[0] = clip_coefficient_of(norm.data<double>()[0], max_norm);
}

AN_CPU_KERNELS_END
