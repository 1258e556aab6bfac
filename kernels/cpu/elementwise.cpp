// CPU reference of the elementwise family: plain loops over the shared scalar formulas.
#include "kernels/cpu/isa.h"
#include "kernels/elementwise_math.h"

AN_CPU_KERNELS_BEGIN

namespace {

// f.template operator()<kOp>() with op fixed at compile time: the switch in unary_value then
// folds away and the element loops vectorise (relu a select, not a branch per element).
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::relu: return f.template operator()<UnaryOp::relu>();
    case UnaryOp::tanh: return f.template operator()<UnaryOp::tanh>();
    case UnaryOp::sigmoid: return f.template operator()<UnaryOp::sigmoid>();
    case UnaryOp::exp: return f.template operator()<UnaryOp::exp>();
    case UnaryOp::log: return f.template operator()<UnaryOp::log>();
    case UnaryOp::identity: return f.template operator()<UnaryOp::identity>();
  }
}

}  // namespace

void unary_forward(UnaryOp op, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "unary_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    const int64_t n = x.numel();
    with_unary_op(op, [&]<UnaryOp kOp>() {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) py[i] = unary_value(kOp, px[i]);
    });
  });
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                    GradMode mode) {
  dispatch_float(x.dtype(), "unary_backward", [&]<class scalar_t>() {
    const scalar_t *px = x.data<scalar_t>(), *py = y.data<scalar_t>();
    const scalar_t* pdy = dy.data<scalar_t>();
    scalar_t* pdx = dx.data<scalar_t>();
    const bool accumulate = mode == GradMode::Accumulate;
    const int64_t n = x.numel();
    with_unary_op(op, [&]<UnaryOp kOp>() {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t g = pdy[i] * unary_derivative(kOp, px[i], py[i]);
        pdx[i] = accumulate ? pdx[i] + g : g;
      }
    });
  });
}

void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), "binary_forward", [&]<class scalar_t>() {
    const scalar_t *pa = a.data<scalar_t>(), *pb = b.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t n = a.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) po[i] = binary_value(op, pa[i], pb[i]);
  });
}

void axpby(double alpha, const Tensor& x, double beta, Tensor& y, const Tensor& alpha_scale) {
  if (alpha_scale.defined()) alpha *= alpha_scale.data<double>()[0];
  dispatch_float(x.dtype(), "axpby", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    const scalar_t a = static_cast<scalar_t>(alpha), b = static_cast<scalar_t>(beta);
    const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) py[i] = beta == 0.0 ? a * px[i] : a * px[i] + b * py[i];
  });
}

void fill(Tensor& y, double value) {
  dispatch_float(y.dtype(), "fill", [&]<class scalar_t>() {
    scalar_t* py = y.data<scalar_t>();
    const scalar_t v = static_cast<scalar_t>(value);
    for (int64_t i = 0; i < y.numel(); ++i) py[i] = v;
  });
}

AN_CPU_KERNELS_END
