// CUDA twin of the gemm family: cuBLAS for the product, small kernels for linear's bias.
#include <type_traits>

#include "kernels/gemm.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

template <class T>
__global__ void add_row_bias_kernel(const T* bias, T* y, int64_t cols, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % cols];
}

// A block owns kColumns adjacent columns: its threadIdx.x runs along a row (coalesced reads),
// its threadIdx.y lanes take every kLanes-th row, and the lanes are summed in a fixed order, so
// the result does not depend on scheduling.
constexpr int kColumns = 32, kLanes = 8;

template <class T>
__global__ void sum_rows_accumulate_kernel(const T* dy, T* dbias, int64_t rows, int64_t cols) {
  __shared__ double partial[kLanes][kColumns];
  const int64_t j = blockIdx.x * int64_t(kColumns) + threadIdx.x;
  double sum = 0.0;
  if (j < cols)
    for (int64_t r = threadIdx.y; r < rows; r += kLanes) sum += dy[r * cols + j];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    double total = 0.0;
    for (int lane = 0; lane < kLanes; ++lane) total += partial[lane][threadIdx.x];
    dbias[j] += static_cast<T>(total);
  }
}

template <class T>
__global__ void scale_kernel(T* c, T beta, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    c[i] = beta == T(0) ? T(0) : beta * c[i];
}

}  // namespace

// cuBLAS is column-major. A row-major [r, c] buffer is the column-major matrix of its transpose,
// so row-major C = op(A)·op(B) is computed as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B first, A second,
// each with its own transpose flag, and the leading dimensions are the row-major row lengths.
void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmParams& p) {
  const int64_t m = c.size(0), n = c.size(1), k = p.trans_a ? a.size(0) : a.size(1);
  if (m == 0 || n == 0) return;
  const SideWork side(c.device(), p.side_stream);
  cudaStream_t s = side.stream();
  if (k == 0) {  // an empty sum: C = beta · C, with beta = 0 ignoring what C held
    dispatch_float(c.dtype(), "gemm", [&]<class scalar_t>() {
      scale_kernel<<<grid_for(m * n), 256, 0, s>>>(c.data<scalar_t>(),
                                                   static_cast<scalar_t>(p.beta), m * n);
    });
    AN_CUDA_CHECK_LAUNCH();
    return;
  }
  cublasHandle_t handle = cublas_handle(c.device(), s);
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1));
  dispatch_float(a.dtype(), "gemm", [&]<class scalar_t>() {
    const scalar_t alpha = static_cast<scalar_t>(p.alpha), beta = static_cast<scalar_t>(p.beta);
    if constexpr (std::is_same_v<scalar_t, float>) {
      AN_CUBLAS_CHECK(cublasSgemm(handle, op_b, op_a, int(n), int(m), int(k), &alpha,
                                  b.data<float>(), ldb, a.data<float>(), lda, &beta,
                                  c.data<float>(), int(n)));
    } else {
      AN_CUBLAS_CHECK(cublasDgemm(handle, op_b, op_a, int(n), int(m), int(k), &alpha,
                                  b.data<double>(), ldb, a.data<double>(), lda, &beta,
                                  c.data<double>(), int(n)));
    }
  });
}

void add_row_bias(const Tensor& bias, Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), "add_row_bias", [&]<class scalar_t>() {
    add_row_bias_kernel<<<grid_for(n), 256, 0, s>>>(bias.data<scalar_t>(), y.data<scalar_t>(),
                                                    y.size(1), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void sum_rows_accumulate(const Tensor& dy, Tensor& dbias) {
  const int64_t rows = dy.size(0), cols = dy.size(1);
  if (cols == 0) return;
  cudaStream_t s = stream(dy.device());
  const unsigned blocks = static_cast<unsigned>((cols + kColumns - 1) / kColumns);
  dispatch_float(dy.dtype(), "sum_rows_accumulate", [&]<class scalar_t>() {
    sum_rows_accumulate_kernel<<<blocks, dim3(kColumns, kLanes), 0, s>>>(
        dy.data<scalar_t>(), dbias.data<scalar_t>(), rows, cols);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
