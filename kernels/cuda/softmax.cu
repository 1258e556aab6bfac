// CUDA twin of the softmax family. A row belongs to one warp (short rows) or one 128-thread block
// (long rows such as a 10k-word vocabulary); row sums are carried in double and reduced with xor
// shuffles, whose result is bitwise the same in every lane, so every reduction is deterministic.
// The batch mean of a loss is a fixed-order single-block reduction.
#include <cub/cub.cuh>

#include "kernels/cuda/add_unfused.cuh"
#include "kernels/softmax_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kRowBlock = 128;    // threads per block of the row kernels
constexpr int kMeanBlock = 256;   // threads of the single-block batch means

struct Sum {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct Max {
  __device__ double operator()(double a, double b) const { return b > a ? b : a; }
};

// Reduces v over the kWarps·32 threads that share a row; every one of them gets the result.
template <int kWarps, class Op>
__device__ double row_reduce(double v, Op op, double* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (kWarps == 1) {
    return v;
  } else {
    static_assert(kWarps * 32 == kRowBlock, "a multi-warp row fills the whole block");
    __syncthreads();  // the previous reduction has finished reading `shared`
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
    __syncthreads();
    double r = shared[0];
    for (int w = 1; w < kWarps; ++w) r = op(r, shared[w]);
    return r;
  }
}

// Softmax / log-softmax of each row of x [rows, cols]. With targets (cross-entropy), also the
// row's smoothed loss term into row_loss[row] (NaN when the target is out of range).
template <class T, int kWarps>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t cols, bool log,
                                    const int64_t* targets, double smoothing, double* row_loss) {
  __shared__ double shared[kWarps];
  constexpr int kThreads = kWarps * 32, kRowsPerBlock = kRowBlock / kThreads;
  const int lane = threadIdx.x % kThreads;
  const int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kThreads;
  if (row >= rows) return;  // whole warps leave together; multi-warp rows never take this branch
  const T* xr = x + row * cols;
  T* yr = y + row * cols;

  double m = xr[0];
  for (int64_t c = lane; c < cols; c += kThreads) m = xr[c] > m ? double(xr[c]) : m;
  const T row_max = static_cast<T>(row_reduce<kWarps>(m, Max(), shared));
  double s = 0;
  for (int64_t c = lane; c < cols; c += kThreads) s += std::exp(xr[c] - row_max);
  const double sum_exp = row_reduce<kWarps>(s, Sum(), shared);
  const double log_sum_exp = std::log(sum_exp);
  double sum_log_probs = 0;
  for (int64_t c = lane; c < cols; c += kThreads) {
    const T v = log ? log_softmax_value(xr[c], row_max, log_sum_exp)
                    : softmax_value(xr[c], row_max, sum_exp);
    yr[c] = v;
    sum_log_probs += v;
  }
  if (targets == nullptr) return;
  sum_log_probs = row_reduce<kWarps>(sum_log_probs, Sum(), shared);
  if (lane == 0) {
    const int64_t t = targets[row];
    row_loss[row] = t >= 0 && t < cols
                        ? cross_entropy_row_loss(log_softmax_value(xr[t], row_max, log_sum_exp),
                                                 sum_log_probs, cols, smoothing)
                        : nan("");
  }
}

template <class T, int kWarps>
__global__ void softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols,
                                        bool log, bool accumulate) {
  __shared__ double shared[kWarps];
  constexpr int kThreads = kWarps * 32, kRowsPerBlock = kRowBlock / kThreads;
  const int lane = threadIdx.x % kThreads;
  const int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kThreads;
  if (row >= rows) return;
  const int64_t base = row * cols;
  double dot = 0;
  for (int64_t c = lane; c < cols; c += kThreads)
    dot += log ? double(dy[base + c]) : double(dy[base + c]) * y[base + c];
  dot = row_reduce<kWarps>(dot, Sum(), shared);
  for (int64_t c = lane; c < cols; c += kThreads) {
    const T g = log ? log_softmax_grad(y[base + c], dy[base + c], dot)
                    : softmax_grad(y[base + c], dy[base + c], dot);
    dx[base + c] = accumulate ? add_unfused(dx[base + c], g) : g;
  }
}

// loss[0] = Σ_i row_loss[i] / n in one block (fixed order).
template <class T>
__global__ void mean_kernel(const double* row_loss, int64_t n, T* loss) {
  using BlockReduce = cub::BlockReduce<double, kMeanBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kMeanBlock) s += row_loss[i];
  const double total = BlockReduce(temp).Sum(s);
  if (threadIdx.x == 0) loss[0] = static_cast<T>(total / n);
}

// loss[0] = −Σ_i log_probs[i, t_i] / n; NaN when a target is out of range.
template <class T>
__global__ void nll_forward_kernel(const T* log_probs, const int64_t* targets, int64_t n,
                                   int64_t classes, T* loss) {
  using BlockReduce = cub::BlockReduce<double, kMeanBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kMeanBlock) {
    const int64_t t = targets[i];
    s -= t >= 0 && t < classes ? double(log_probs[i * classes + t]) : nan("");
  }
  const double total = BlockReduce(temp).Sum(s);
  if (threadIdx.x == 0) loss[0] = static_cast<T>(total / n);
}

template <class T>
__global__ void cross_entropy_backward_kernel(const T* log_probs, const int64_t* targets,
                                              const T* dloss, T* dlogits, int64_t n,
                                              int64_t classes, double smoothing) {
  const double scale = double(dloss[0]) / n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * classes;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / classes, c = e % classes, t = targets[i];
    dlogits[e] = t >= 0 && t < classes
                     ? cross_entropy_grad(log_probs[e], c == t, scale, classes, smoothing)
                     : T(nan(""));
  }
}

template <class T>
__global__ void nll_backward_kernel(const int64_t* targets, const T* dloss, T* dlog_probs,
                                    int64_t n, int64_t classes) {
  const T value = static_cast<T>(-double(dloss[0]) / n);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * classes;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / classes, c = e % classes, t = targets[i];
    dlog_probs[e] = t >= 0 && t < classes ? (c == t ? value : T(0)) : T(nan(""));
  }
}

// Long rows get a whole block; short rows one warp each (four rows per block).
bool wide_rows(int64_t cols) { return cols > 512; }
unsigned row_blocks(int64_t rows, int64_t cols) {
  const int64_t per_block = wide_rows(cols) ? 1 : kRowBlock / 32;
  return static_cast<unsigned>((rows + per_block - 1) / per_block);
}

template <class T>
void launch_softmax_rows(const T* x, T* y, int64_t rows, int64_t cols, bool log,
                         const int64_t* targets, double smoothing, double* row_loss,
                         cudaStream_t s) {
  if (wide_rows(cols))
    softmax_rows_kernel<T, 4><<<row_blocks(rows, cols), kRowBlock, 0, s>>>(
        x, y, rows, cols, log, targets, smoothing, row_loss);
  else
    softmax_rows_kernel<T, 1><<<row_blocks(rows, cols), kRowBlock, 0, s>>>(
        x, y, rows, cols, log, targets, smoothing, row_loss);
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, bool log) {
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  if (rows == 0) return;
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "softmax_forward", [&]<class scalar_t>() {
    launch_softmax_rows(x.data<scalar_t>(), y.data<scalar_t>(), rows, cols, log, nullptr, 0.0,
                        nullptr, s);
  });
}

void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, bool log, GradMode dx_mode) {
  const bool accumulate = dx_mode == GradMode::Accumulate;
  const int64_t cols = y.size(-1), rows = y.numel() / cols;
  if (rows == 0) return;
  cudaStream_t s = stream(y.device());
  dispatch_float(y.dtype(), "softmax_backward", [&]<class scalar_t>() {
    const scalar_t *py = y.data<scalar_t>(), *pdy = dy.data<scalar_t>();
    scalar_t* pdx = dx.data<scalar_t>();
    if (wide_rows(cols))
      softmax_backward_kernel<scalar_t, 4>
          <<<row_blocks(rows, cols), kRowBlock, 0, s>>>(py, pdy, pdx, rows, cols, log, accumulate);
    else
      softmax_backward_kernel<scalar_t, 1>
          <<<row_blocks(rows, cols), kRowBlock, 0, s>>>(py, pdy, pdx, rows, cols, log, accumulate);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& loss,
                           Tensor& log_probs, double label_smoothing) {
  const int64_t n = logits.size(0), classes = logits.size(1);
  cudaStream_t s = stream(logits.device());
  Tensor row_loss = Tensor::empty({n}, DType::f64, logits.device());
  dispatch_float(logits.dtype(), "cross_entropy_forward", [&]<class scalar_t>() {
    launch_softmax_rows(logits.data<scalar_t>(), log_probs.data<scalar_t>(), n, classes,
                        /*log=*/true, targets.data<int64_t>(), label_smoothing,
                        row_loss.data<double>(), s);
    mean_kernel<<<1, kMeanBlock, 0, s>>>(row_loss.data<double>(), n, loss.data<scalar_t>());
  });
  AN_CUDA_CHECK_LAUNCH();
}

void cross_entropy_backward(const Tensor& log_probs, const Tensor& targets, const Tensor& dloss,
                            Tensor& dlogits, double label_smoothing) {
  const int64_t n = log_probs.size(0), classes = log_probs.size(1);
  cudaStream_t s = stream(log_probs.device());
  dispatch_float(log_probs.dtype(), "cross_entropy_backward", [&]<class scalar_t>() {
    cross_entropy_backward_kernel<<<grid_for(n * classes), 256, 0, s>>>(
        log_probs.data<scalar_t>(), targets.data<int64_t>(), dloss.data<scalar_t>(),
        dlogits.data<scalar_t>(), n, classes, label_smoothing);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void nll_forward(const Tensor& log_probs, const Tensor& targets, Tensor& loss) {
  const int64_t n = log_probs.size(0), classes = log_probs.size(1);
  cudaStream_t s = stream(log_probs.device());
  dispatch_float(log_probs.dtype(), "nll_forward", [&]<class scalar_t>() {
    nll_forward_kernel<<<1, kMeanBlock, 0, s>>>(log_probs.data<scalar_t>(), targets.data<int64_t>(),
                                                n, classes, loss.data<scalar_t>());
  });
  AN_CUDA_CHECK_LAUNCH();
}

void nll_backward(const Tensor& targets, const Tensor& dloss, Tensor& dlog_probs) {
  const int64_t n = dlog_probs.size(0), classes = dlog_probs.size(1);
  cudaStream_t s = stream(dlog_probs.device());
  dispatch_float(dlog_probs.dtype(), "nll_backward", [&]<class scalar_t>() {
    nll_backward_kernel<<<grid_for(n * classes), 256, 0, s>>>(
        targets.data<int64_t>(), dloss.data<scalar_t>(), dlog_probs.data<scalar_t>(), n, classes);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
