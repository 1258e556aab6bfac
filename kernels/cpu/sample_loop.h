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

// A weight gradient summed over a batch's samples. Where the samples run in parallel, sample n's
// GEMM writes a part of its own (beta 0) and finish() adds the parts onto dw in sample order, so
// the sum does not depend on the thread count. Where the parts would take more than
// kMaxPartBytes (convolutions far larger than DARTS': there a GEMM is big enough for OpenBLAS to
// thread on its own), the samples run one after another and each GEMM adds onto dw itself
// (beta 1). The choice depends on the shapes alone.
class SampleWeightGrad {
 public:
  static constexpr int64_t kMaxPartBytes = int64_t{64} << 20;

  // dw: the gradient (undefined: none to form); samples: the batch size.
  SampleWeightGrad(const Tensor& dw, int64_t samples)
      : dw_(dw),
        parallel_(samples_in_parallel(samples) &&
                  (!dw.defined() || samples * static_cast<int64_t>(dw.nbytes()) <= kMaxPartBytes)) {
    if (!dw.defined() || !parallel_) return;
    Shape shape = {samples};
    shape.insert(shape.end(), dw.shape().begin(), dw.shape().end());
    parts_ = Tensor::empty(shape, dw.dtype());
  }
  bool defined() const { return dw_.defined(); }
  // Whether the batch's samples run on the OpenMP team.
  bool parallel() const { return parallel_; }
  // Where sample n's GEMM puts its product (shaped like dw), and with which beta.
  Tensor target(int64_t n) const { return parallel_ ? parts_.select(0, n) : dw_; }
  double beta() const { return parallel_ ? 0.0 : 1.0; }

  // dw[i] += part(0)[i] + part(1)[i] + ..., added in that order (blocks of elements in parallel,
  // a sample at a time within a block so the adds vectorise); nothing left to do without parts.
  void finish() {
    if (!parts_.defined()) return;
    dispatch_float(dw_.dtype(), "SampleWeightGrad::finish", [&]<class scalar_t>() {
      constexpr int64_t kBlock = 1024;
      const int64_t samples = parts_.size(0), size = dw_.numel();
      const scalar_t* p = parts_.data<scalar_t>();
      scalar_t* out = dw_.data<scalar_t>();
#pragma omp parallel for if (samples * size > 65536)
      for (int64_t begin = 0; begin < size; begin += kBlock) {
        const int64_t end = std::min(size, begin + kBlock);
        for (int64_t n = 0; n < samples; ++n)
          for (int64_t i = begin; i < end; ++i) out[i] += p[n * size + i];
      }
    });
  }

 private:
  Tensor dw_, parts_;
  bool parallel_ = false;
};

}  // namespace autonet::cpu
