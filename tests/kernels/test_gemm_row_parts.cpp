// The CPU gemm cuts mid-sized products into parts of C's rows run in parallel
// (kernels/cpu/gemm.cpp): each row must come out as the one OpenBLAS call computes it.
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>

#include "kernels/gemm.h"

namespace autonet {
namespace {

// C = op(A) · op(B) + beta · C0 through gemm and through one cblas call; the same bits.
template <class T>
void expect_parts_equal_whole(int64_t m, int64_t k, int64_t n, bool ta, bool tb, double beta) {
  const DType dtype = sizeof(T) == 4 ? DType::f32 : DType::f64;
  Tensor a = Tensor::empty(ta ? Shape{k, m} : Shape{m, k}, dtype);
  Tensor b = Tensor::empty(tb ? Shape{n, k} : Shape{k, n}, dtype);
  Tensor c0 = Tensor::empty({m, n}, dtype);
  fill_uniform(a, -1, 1, 11);
  fill_uniform(b, -1, 1, 12);
  fill_uniform(c0, -1, 1, 13);
  const CBLAS_TRANSPOSE cta = ta ? CblasTrans : CblasNoTrans, ctb = tb ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1));
  const std::string what = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) +
                           (ta ? " T" : " N") + (tb ? "T" : "N") + " beta " + std::to_string(beta);
  // OpenBLAS's own threads may change a product's bits (seen at 33 × 500 × 40), so the whole call
  // runs under the same thread count as the parts.
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    Tensor whole = c0.clone();
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, cta, ctb, int(m), int(n), int(k), 1.0f, a.data<float>(), lda,
                  b.data<float>(), ldb, float(beta), whole.data<float>(), int(n));
    else
      cblas_dgemm(CblasRowMajor, cta, ctb, int(m), int(n), int(k), 1.0, a.data<double>(), lda,
                  b.data<double>(), ldb, beta, whole.data<double>(), int(n));
    Tensor c = c0.clone();
    gemm(a, b, c, {.trans_a = ta, .trans_b = tb, .beta = beta});
    EXPECT_EQ(std::memcmp(c.raw_data(), whole.raw_data(), c.numel() * sizeof(T)), 0)
        << what << ", " << threads << " threads";
  }
  omp_set_num_threads(omp_get_num_procs());
}

TEST(Gemm, RowPartsEqualTheWholeProduct) {
  // The recurrent search cell's products (nhid 64 and 300, batch 32 and 256, J = 1..8
  // predecessors: [J·B, H]·[H, 2H] forward, dX and dW) and rows that are no multiple of 16.
  const int64_t shapes[][3] = {{64, 64, 128},  {96, 64, 128},  {100, 64, 128}, {256, 64, 128},
                               {64, 256, 128}, {64, 128, 256}, {256, 128, 64}, {160, 300, 96},
                               {33, 500, 40},  {640, 64, 96}};
  for (const auto& [m, k, n] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (double beta : {0.0, 1.0}) expect_parts_equal_whole<float>(m, k, n, ta, tb, beta);
  expect_parts_equal_whole<double>(256, 64, 128, false, true, 0.0);
  expect_parts_equal_whole<double>(64, 256, 128, true, false, 1.0);
}

}  // namespace
}  // namespace autonet
