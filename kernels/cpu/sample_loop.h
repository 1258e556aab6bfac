// The loops over a batch's samples whose bodies call OpenBLAS (conv2d's and factorized_reduce's
// CPU twins). At DARTS sizes one sample's GEMM (8–64 channels by 7×7–32×32 pixels) is too small
// for OpenBLAS to split, so a plain loop over samples was one core's work while the others waited;
// these loops give each OpenMP thread whole samples instead.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "runtime/tensor.h"

namespace autonet::cpu {

// Whether a batch's samples may run on the OpenMP team, each calling OpenBLAS from its own thread.
// Yes with OpenBLAS's OpenMP (or sequential) build: a call made inside a parallel region runs on
// its calling thread. Not with its pthread build, whose own threads would fight the OpenMP team
// for the cores. One sample alone is left to OpenBLAS to thread.
inline bool samples_in_parallel(int64_t samples) {
  static const bool blas_stays_on_its_thread = openblas_get_parallel() != 1;  // 1: pthreads
  return samples > 1 && blas_stays_on_its_thread;
}

// OpenBLAS as `autonet info` shows it: its own configuration string, its threading, and what
// that means for the loops above.
inline std::string blas_description() {
  const int threading = openblas_get_parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
  return std::string(openblas_get_config()) + "; " +
         (threading == 2   ? "OpenMP build"
          : threading == 1 ? "pthread build"
                           : "sequential build") +
         (samples_in_parallel(2) ? ": a batch's samples run on the OpenMP threads"
                                 : ": each GEMM threaded by OpenBLAS alone");
}

// A weight gradient summed over samples that run in parallel: sample n's GEMM writes part(n)
// (beta 0), and add_to(dw) then adds the parts onto dw in sample order, so the sum does not depend
// on the thread count. Empty (and part() undefined) when `dw` is undefined.
class SamplePartials {
 public:
  SamplePartials(const Tensor& dw, int64_t samples) {
    if (!dw.defined()) return;
    Shape shape = {samples};
    shape.insert(shape.end(), dw.shape().begin(), dw.shape().end());
    parts_ = Tensor::empty(shape, dw.dtype());
  }
  bool defined() const { return parts_.defined(); }
  Tensor part(int64_t n) const { return parts_.select(0, n); }

  // dw[i] += part(0)[i] + part(1)[i] + ..., added in that order (blocks of elements in parallel,
  // a sample at a time within a block so the adds vectorise).
  void add_to(Tensor& dw) const {
    if (!defined()) return;
    dispatch_float(dw.dtype(), "SamplePartials::add_to", [&]<class scalar_t>() {
      constexpr int64_t kBlock = 1024;
      const int64_t samples = parts_.size(0), size = dw.numel();
      const scalar_t* p = parts_.data<scalar_t>();
      scalar_t* out = dw.data<scalar_t>();
#pragma omp parallel for if (samples * size > 65536)
      for (int64_t begin = 0; begin < size; begin += kBlock) {
        const int64_t end = std::min(size, begin + kBlock);
        for (int64_t n = 0; n < samples; ++n)
          for (int64_t i = begin; i < end; ++i) out[i] += p[n * size + i];
      }
    });
  }

 private:
  Tensor parts_;
};

}  // namespace autonet::cpu
