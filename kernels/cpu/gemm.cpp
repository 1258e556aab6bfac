// CPU twin of the gemm family: OpenBLAS (row-major cblas) for the product, loops for the bias.
#include <cblas.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/gemm.h"

AN_CPU_KERNELS_BEGIN

namespace {
// OpenBLAS runs most products of fewer than ~1M multiply-adds on one thread (its small-matrix
// kernels), and the recurrent cell's node products are 0.1–2M: those are cut here into up to
// kMaxRowParts parts of C's rows (whole 16-row tiles) run in parallel. A row of C is the same sum
// in the same order in a part as in one call (`Gemm.RowPartsEqualTheWholeProduct`, at the
// recurrent step's shapes), and the parts depend on the shape alone, not on the thread count.
constexpr int64_t kMaxRowParts = 4;
constexpr int64_t kRowsPerPart = 32;
constexpr double kSplitMinMultiplyAdds = 1 << 16, kSplitMaxMultiplyAdds = 1 << 23;

int64_t row_parts(int64_t m, int64_t n, int64_t k) {
  const double mnk = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (mnk < kSplitMinMultiplyAdds || mnk > kSplitMaxMultiplyAdds) return 1;
  return std::clamp<int64_t>(m / kRowsPerPart, 1, kMaxRowParts);
}

// The first row of part `part` of `parts`: a multiple of 16 (OpenBLAS's tile height here).
int64_t part_start(int64_t part, int64_t parts, int64_t m) {
  if (part == parts) return m;
  return std::min(m, (m * part / parts + 15) / 16 * 16);
}
}  // namespace

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
    // Rows [r0, r1) of C from the same rows of op(A).
    auto product_rows = [&](int64_t r0, int64_t r1) {
      const scalar_t* pa = a.data<scalar_t>() + (p.trans_a ? r0 : r0 * lda);
      const int rows = static_cast<int>(r1 - r0);
      if constexpr (std::is_same_v<scalar_t, float>)
        cblas_sgemm(CblasRowMajor, ta, tb, rows, int(n), int(k), float(p.alpha), pa, lda,
                    b.data<float>(), ldb, float(p.beta), pc + r0 * n, int(n));
      else
        cblas_dgemm(CblasRowMajor, ta, tb, rows, int(n), int(k), p.alpha, pa, lda, b.data<double>(),
                    ldb, p.beta, pc + r0 * n, int(n));
    };
    const int64_t parts = row_parts(m, n, k);
    if (parts == 1) return product_rows(0, m);
#pragma omp parallel for
    for (int64_t part = 0; part < parts; ++part)
      product_rows(part_start(part, parts, m), part_start(part + 1, parts, m));
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
