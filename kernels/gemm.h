// Dense matrix products: OpenBLAS on the CPU, cuBLAS on the GPU (DESIGN.md §3).
//
// Shapes are row-major and contiguous. Gradient contract (all families): input gradients are
// written, parameter gradients accumulate; an undefined Tensor means "not needed, skip".
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

struct GemmParams {
  bool trans_a = false;  // use Aᵀ
  bool trans_b = false;  // use Bᵀ
  double alpha = 1.0;
  double beta = 0.0;     // 0 ignores what C held (NaN included)
  // A parameter's gradient, which nothing reads before backward ends: on a GPU inside backward
  // it runs on the side stream, beside the input gradients (runtime/side_stream.h).
  bool side_stream = false;
};

AN_KERNEL_ENTRIES(
// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C.
void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmParams& p = {});
)

// linear's bias helpers: twins only, with no checks of their own (linear_forward/backward
// validate).
AN_CPU_TWINS(
    // y[R, M] += bias[M] on every row.
    void add_row_bias(const Tensor& bias, Tensor& y);
    // dbias[M] += Σ_r dy[r, M].
    void sum_rows_accumulate(const Tensor& dy, Tensor& dbias);)
namespace cuda {
void add_row_bias(const Tensor& bias, Tensor& y);
void sum_rows_accumulate(const Tensor& dy, Tensor& dbias);
}  // namespace cuda

// y[N, out] = x[N, in] · weight[out, in]ᵀ + bias[out] (bias may be undefined).
void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y);
// dx (written) = dy · weight; dweight += dyᵀ · x; dbias += Σ_N dy. Undefined outputs are skipped.
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor& dx,
                     Tensor& dweight, Tensor& dbias);

}  // namespace autonet
