// CPU twin of the gemm family: OpenBLAS (row-major cblas) for the product, loops for the bias.
#include <cblas.h>

#include <type_traits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/gemm.h"

AN_CPU_KERNELS_BEGIN

void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmParams& p) {
  const int64_t m = c.size(0), n = c.size(1), k = p.trans_a ? a.size(0) : a.size(1);
  if (m == 0 || n == 0) return;
  dispatch_float(a.dtype(), "gemm", [&]<class scalar_t>() {
    scalar_t* pc = c.data<scalar_t>();
    if (k == 0) {  // an empty sum: C = beta · C, with beta = 0 ignoring what C held
      for (int64_t i = 0; i < m * n; ++i)
        pc[i] = p.beta == 0.0 ? scalar_t(0) : static_cast<scalar_t>(p.beta) * pc[i];
      return;
    }
    const CBLAS_TRANSPOSE ta = p.trans_a ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = p.trans_b ? CblasTrans : CblasNoTrans;
    const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1));
    if constexpr (std::is_same_v<scalar_t, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), float(p.alpha), a.data<float>(),
                  lda, b.data<float>(), ldb, float(p.beta), pc, int(n));
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), p.alpha, a.data<double>(), lda,
                  b.data<double>(), ldb, p.beta, pc, int(n));
    }
  });
}

// Single-threaded: it runs right after a GEMM, whose OpenBLAS threads are still spinning.
void add_row_bias(const Tensor& bias, Tensor& y) {
  dispatch_float(y.dtype(), "add_row_bias", [&]<class scalar_t>() {
    const scalar_t* pb = bias.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    const int64_t rows = y.size(0), cols = y.size(1);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) py[r * cols + j] += pb[j];
  });
}

void sum_rows_accumulate(const Tensor& dy, Tensor& dbias) {
  dispatch_float(dy.dtype(), "sum_rows_accumulate", [&]<class scalar_t>() {
    const scalar_t* pdy = dy.data<scalar_t>();
    scalar_t* pdb = dbias.data<scalar_t>();
    const int64_t rows = dy.size(0), cols = dy.size(1);
    std::vector<double> sum(cols, 0.0);  // row by row: reads dy in memory order
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) sum[j] += pdy[r * cols + j];
    for (int64_t j = 0; j < cols; ++j) pdb[j] += static_cast<scalar_t>(sum[j]);
  });
}

AN_CPU_KERNELS_END
