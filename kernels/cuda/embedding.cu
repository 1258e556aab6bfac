// CUDA twin of the embedding family. The gradient is deterministic without float atomics: the ids
// are radix-sorted together with their positions (stable, so positions stay in increasing order
// within an id), and one thread per (run of equal ids, column) adds that run in order. This is the
// CPU's order of additions, so the twins agree bit for bit.
#include <algorithm>
#include <cub/cub.cuh>

#include "kernels/embedding.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

template <class T>
__global__ void embedding_forward_kernel(const T* weight, const int64_t* ids, T* out, int64_t n,
                                         int64_t vocabulary, int64_t dim) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * dim;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t id = ids[e / dim];
    out[e] = id >= 0 && id < vocabulary ? weight[id * dim + e % dim] : T(nan(""));
  }
}

__global__ void iota_kernel(int64_t* positions, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    positions[i] = i;
}

// Thread (k, d): when sorted position k starts a run of equal ids, adds the run's dout rows into
// dweight[id, d]. Out-of-range ids (already NaN in forward) are skipped.
template <class T>
__global__ void embedding_backward_kernel(const int64_t* sorted_ids, const int64_t* positions,
                                          const T* dout, T* dweight, int64_t n, int64_t vocabulary,
                                          int64_t dim) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * dim;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = e / dim, d = e % dim;
    const int64_t id = sorted_ids[k];
    if ((k > 0 && sorted_ids[k - 1] == id) || id < 0 || id >= vocabulary) continue;
    T acc = dweight[id * dim + d];
    for (int64_t j = k; j < n && sorted_ids[j] == id; ++j) acc += dout[positions[j] * dim + d];
    dweight[id * dim + d] = acc;
  }
}

}  // namespace

void embedding_forward(const Tensor& weight, const Tensor& ids, Tensor& out) {
  const int64_t vocabulary = weight.size(0), dim = weight.size(1), n = ids.numel();
  if (n * dim == 0) return;
  cudaStream_t s = stream(weight.device());
  dispatch_float(weight.dtype(), "embedding_forward", [&]<class scalar_t>() {
    embedding_forward_kernel<<<grid_for(n * dim), 256, 0, s>>>(
        weight.data<scalar_t>(), ids.data<int64_t>(), out.data<scalar_t>(), n, vocabulary, dim);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dweight) {
  const int64_t vocabulary = dweight.size(0), dim = dweight.size(1), n = ids.numel();
  if (n * dim == 0) return;
  AN_CHECK(n < (int64_t(1) << 31)) << "embedding_backward: " << n << " ids exceed the sort's range";
  const Device device = dweight.device();
  cudaStream_t s = stream(device);

  Tensor positions = Tensor::empty({n}, DType::i64, device);
  Tensor sorted_ids = Tensor::empty({n}, DType::i64, device);
  Tensor sorted_positions = Tensor::empty({n}, DType::i64, device);
  iota_kernel<<<grid_for(n), 256, 0, s>>>(positions.data<int64_t>(), n);
  AN_CUDA_CHECK_LAUNCH();
  // All 64 key bits: an out-of-range id must still sort into a single run of its own.
  size_t temp_bytes = 0;
  AN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, temp_bytes, ids.data<int64_t>(), sorted_ids.data<int64_t>(),
      positions.data<int64_t>(), sorted_positions.data<int64_t>(), static_cast<int>(n), 0, 64, s));
  // At least one byte: a null temp pointer would make the second call another size query.
  Tensor temp = Tensor::empty({static_cast<int64_t>(std::max<size_t>(temp_bytes, 1))}, DType::u8, device);
  AN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      temp.raw_data(), temp_bytes, ids.data<int64_t>(), sorted_ids.data<int64_t>(),
      positions.data<int64_t>(), sorted_positions.data<int64_t>(), static_cast<int>(n), 0, 64, s));

  dispatch_float(dweight.dtype(), "embedding_backward", [&]<class scalar_t>() {
    embedding_backward_kernel<<<grid_for(n * dim), 256, 0, s>>>(
        sorted_ids.data<int64_t>(), sorted_positions.data<int64_t>(), dout.data<scalar_t>(),
        dweight.data<scalar_t>(), n, vocabulary, dim);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
