// CPU reference of the embedding family: row copies, and a scatter-add in position order.
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/embedding.h"

AN_CPU_KERNELS_BEGIN

namespace {
void check_ids(const Tensor& ids, int64_t vocabulary, const char* what) {
  const int64_t* p = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    AN_CHECK(p[i] >= 0 && p[i] < vocabulary)
        << what << ": id " << p[i] << " at position " << i << " is outside [0, " << vocabulary
        << ")";
}
}  // namespace

void embedding_forward(const Tensor& weight, const Tensor& ids, Tensor& out) {
  const int64_t vocabulary = weight.size(0), dim = weight.size(1), n = ids.numel();
  check_ids(ids, vocabulary, "embedding_forward");
  const int64_t* id = ids.data<int64_t>();
  dispatch_float(weight.dtype(), "embedding_forward", [&]<class scalar_t>() {
    const scalar_t* w = weight.data<scalar_t>();  // [V, D]
    scalar_t* o = out.data<scalar_t>();            // [n, D]
#pragma omp parallel for if (n * dim > 65536)
    for (int64_t i = 0; i < n; ++i) std::memcpy(o + i * dim, w + id[i] * dim, dim * sizeof(scalar_t));
  });
}

// Positions are added in increasing order; the CUDA twin adds each row's positions in the same
// order, so the two agree bit for bit.
void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dweight) {
  const int64_t vocabulary = dweight.size(0), dim = dweight.size(1), n = ids.numel();
  check_ids(ids, vocabulary, "embedding_backward");
  const int64_t* id = ids.data<int64_t>();
  dispatch_float(dweight.dtype(), "embedding_backward", [&]<class scalar_t>() {
    const scalar_t* g = dout.data<scalar_t>();  // [n, D]
    scalar_t* dw = dweight.data<scalar_t>();     // [V, D]
    // Columns are independent: splitting the work by column keeps each sum's order.
#pragma omp parallel for if (n * dim > 65536)
    for (int64_t d = 0; d < dim; ++d)
      for (int64_t i = 0; i < n; ++i) dw[id[i] * dim + d] += g[i * dim + d];
  });
}

AN_CPU_KERNELS_END
