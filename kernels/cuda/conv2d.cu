// CUDA twin of conv2d: im2col kernels + cuBLAS GEMM over chunks of samples.
//
// Batching: a chunk of B samples shares one im2col matrix col [C·R·S, B·Ho·Wo] (column b·Ho·Wo + q
// is sample b's pixel q), so each chunk is one GEMM, not B small ones (a DARTS batch of 64 would
// otherwise be 64 launch-bound GEMMs per call). B is chosen so every workspace stays under
// kConvWorkspaceElements whatever the batch size. The GEMM's output [K, B·Ho·Wo] is channel-major,
// so small layout kernels move it to and from NCHW (adding the bias on the way out). A pointwise
// conv (1×1, stride 1, no padding: every DARTS 1×1 but FactorizedReduce's stride-2 ones) skips all
// of this: one strided batched GEMM over the samples, straight on NCHW.
#include <cub/block/block_reduce.cuh>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "kernels/conv2d_geometry.h"
#include "kernels/gemm.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kBlock = 256;

// col[row, oh·Wo + ow] of one sample x [C, H, W], row = (c·R + r)·S + s.
template <class T>
__device__ __forceinline__ T im2col_value(const T* x, const Conv2dGeometry& g, int64_t row,
                                          int64_t oh, int64_t ow) {
  const int64_t s = row % g.S, r = (row / g.S) % g.R, c = row / (g.R * g.S);
  const int64_t ih = oh * g.sh - g.ph + r * g.dh, iw = ow * g.sw - g.pw + s * g.dw;
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return T(0);
  return x[(c * g.H + ih) * g.W + iw];
}

// dx[c, ih, iw] = Σ dcol[(c, r, s), (oh, ow)] over every tap that im2col copied x[c, ih, iw] to:
// the adjoint of im2col, as a gather (each input pixel written once, no atomics). Taps are summed
// in (r, s) order, as the CPU's scatter adds them. dcol's rows are `ld` apart; its column
// oh·Wo + ow belongs to this sample.
template <class T>
__device__ __forceinline__ T col2im_value(const T* dcol, int64_t ld, const Conv2dGeometry& g,
                                          int64_t c, int64_t ih, int64_t iw) {
  T sum = T(0);
  for (int64_t r = 0; r < g.R; ++r) {
    const int64_t h = ih + g.ph - r * g.dh;  // = oh·sh when this tap reads row ih
    if (h < 0 || h % g.sh != 0 || h / g.sh >= g.Ho) continue;
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t w = iw + g.pw - s * g.dw;
      if (w < 0 || w % g.sw != 0 || w / g.sw >= g.Wo) continue;
      sum += dcol[((c * g.R + r) * g.S + s) * ld + (h / g.sh) * g.Wo + w / g.sw];
    }
  }
  return sum;
}

// col [C·R·S, B·Ho·Wo] of the samples x [B, C, H, W].
template <class T>
__global__ void im2col_kernel(const T* x, Conv2dGeometry g, int64_t batch, T* col) {
  const int64_t pixels = g.pixels(), width = batch * pixels, n = g.rows() * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / width, b = (i % width) / pixels, q = i % pixels;
    col[i] = im2col_value(x + b * g.C * g.H * g.W, g, row, q / g.Wo, q % g.Wo);
  }
}

// dx [B, C, H, W] from dcol [C·R·S, B·Ho·Wo], written or added into (dx + the sum: one rounding,
// as writing it and adding it in a second pass).
template <class T>
__global__ void col2im_kernel(const T* dcol, Conv2dGeometry g, int64_t batch, bool accumulate,
                              T* dx) {
  const int64_t image = g.C * g.H * g.W, n = batch * image;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / image, c = (i / (g.H * g.W)) % g.C, ih = (i / g.W) % g.H, iw = i % g.W;
    const T sum = col2im_value(dcol + b * g.pixels(), batch * g.pixels(), g, c, ih, iw);
    dx[i] = accumulate ? dx[i] + sum : sum;
  }
}

// dst [channels, B·pixels] = src [B, channels, pixels] (NCHW → channel-major).
template <class T>
__global__ void to_channel_major_kernel(const T* src, int64_t batch, int64_t channels,
                                        int64_t pixels, T* dst) {
  const int64_t width = batch * pixels, n = channels * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i / width, b = (i % width) / pixels, q = i % pixels;
    dst[i] = src[(b * channels + ch) * pixels + q];
  }
}

// dst [B, channels, pixels] = src [channels, B·pixels] + bias[channel] (bias may be null).
template <class T>
__global__ void from_channel_major_kernel(const T* src, const T* bias, int64_t batch,
                                          int64_t channels, int64_t pixels, T* dst) {
  const int64_t n = batch * channels * pixels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / (channels * pixels), ch = (i / pixels) % channels, q = i % pixels;
    const T v = src[ch * batch * pixels + b * pixels + q];
    dst[i] = bias ? v + bias[ch] : v;
  }
}

// dbias[k] += Σ_{n, q} dy[n, k, q]: one block per channel, a fixed-order block reduction.
template <class T>
__global__ void channel_sum_accumulate_kernel(const T* dy, int64_t batch, int64_t channels,
                                              int64_t pixels, T* dbias) {
  using Reduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename Reduce::TempStorage scratch;
  const int64_t k = blockIdx.x, n = batch * pixels;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock)
    sum += dy[((i / pixels) * channels + k) * pixels + i % pixels];
  const double total = Reduce(scratch).Sum(sum);
  if (threadIdx.x == 0) dbias[k] += static_cast<T>(total);
}

// y [B, K, pixels] += bias[k] in place (NCHW; the pointwise path's bias).
template <class T>
__global__ void add_channel_bias_kernel(const T* bias, int64_t channels, int64_t pixels, int64_t n,
                                        T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[(i / pixels) % channels];
}

// dw[j] += Σ_b partial[b, j] over the batch, in order: the pointwise path's weight gradient.
template <class T>
__global__ void sum_batch_accumulate_kernel(const T* partial, int64_t batch, int64_t n, T* dw) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0.0;
    for (int64_t b = 0; b < batch; ++b) sum += partial[b * n + j];
    dw[j] += static_cast<T>(sum);
  }
}

// c[i] = op_a(a[i]) · op_b(b[i]) + beta · c[i] for i < batch, column-major as cuBLAS sees it;
// a stride of 0 shares one matrix across the batch.
template <class T>
void gemm_strided_batched(const Device& device, cublasOperation_t op_a, cublasOperation_t op_b,
                          int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T* c,
                          int64_t ldc, int64_t stride_c, int64_t batch, T beta = T(0)) {
  for (int64_t v : {m, n, k, lda, ldb, ldc, batch})
    AN_CHECK(v <= INT_MAX) << "conv2d: a pointwise GEMM dimension " << v << " exceeds cuBLAS's int";
  const T alpha = T(1);
  cublasHandle_t handle = cublas_handle(device);
  if constexpr (std::is_same_v<T, float>)
    AN_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_a, op_b, int(m), int(n), int(k), &alpha,
                                              a, int(lda), stride_a, b, int(ldb), stride_b, &beta,
                                              c, int(ldc), stride_c, int(batch)));
  else
    AN_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, op_a, op_b, int(m), int(n), int(k), &alpha,
                                              a, int(lda), stride_a, b, int(ldb), stride_b, &beta,
                                              c, int(ldc), stride_c, int(batch)));
}

// A 1×1 stride-1 unpadded conv reads NCHW as it is: sample b's y[b] [K, P] = w [K, C] · x[b] [C, P]
// (P = H·W) is one strided batched GEMM over the batch, w shared (stride 0), no layout kernels.
// cuBLAS is column-major, where a row-major [r, c] matrix is its transpose: y[b]ᵀ = x[b]ᵀ · wᵀ.
template <class T>
void pointwise_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                       const Conv2dGeometry& g, cudaStream_t s) {
  const int64_t P = g.pixels();
  gemm_strided_batched<T>(x.device(), CUBLAS_OP_N, CUBLAS_OP_N, P, g.K, g.C, x.data<T>(), P,
                          g.C * P, w.data<T>(), g.C, 0, y.data<T>(), P, g.K * P, g.N);
  if (!bias.defined()) return;
  add_channel_bias_kernel<<<grid_for(y.numel()), kBlock, 0, s>>>(bias.data<T>(), g.K, P,
                                                                 y.numel(), y.data<T>());
  AN_CUDA_CHECK_LAUNCH();
}

// dx[b]ᵀ = dy[b]ᵀ · w (written, or added by the GEMM's beta = 1); dw += Σ_b dy[b] · x[b]ᵀ through
// per-sample partials [B, K, C] summed in batch order (cuBLAS cannot add a batch into one matrix).
template <class T>
void pointwise_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                        const Conv2dGeometry& g, bool accumulate, cudaStream_t s) {
  const int64_t P = g.pixels();
  if (dx.defined())
    gemm_strided_batched<T>(x.device(), CUBLAS_OP_N, CUBLAS_OP_T, P, g.C, g.K, dy.data<T>(), P,
                            g.K * P, w.data<T>(), g.C, 0, dx.data<T>(), P, g.C * P, g.N,
                            T(accumulate ? 1 : 0));
  if (!dw.defined()) return;
  Tensor partial = Tensor::empty({g.N, g.K * g.C}, x.dtype(), x.device());
  gemm_strided_batched<T>(x.device(), CUBLAS_OP_T, CUBLAS_OP_N, g.C, g.K, P, x.data<T>(), P,
                          g.C * P, dy.data<T>(), P, g.K * P, partial.data<T>(), g.C, g.K * g.C,
                          g.N);
  sum_batch_accumulate_kernel<<<grid_for(g.K * g.C), kBlock, 0, s>>>(partial.data<T>(), g.N,
                                                                     g.K * g.C, dw.data<T>());
  AN_CUDA_CHECK_LAUNCH();
}

// The first rows·cols elements of a flat workspace, as a [rows, cols] matrix.
Tensor matrix_in(const Tensor& workspace, int64_t rows, int64_t cols) {
  return workspace.slice(0, 0, rows * cols).view({rows, cols});
}

// Fills col [C·R·S, B·Ho·Wo] for samples x [B, C, H, W].
template <class T>
void fill_columns(const T* x, const Conv2dGeometry& g, int64_t batch, Tensor& col,
                  cudaStream_t s) {
  im2col_kernel<<<grid_for(col.numel()), kBlock, 0, s>>>(x, g, batch, col.data<T>());
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                    const Conv2dParams& p) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  if (y.numel() == 0) return;
  cudaStream_t s = stream(x.device());
  const int64_t chunk = conv2d_chunk_samples(g);
  dispatch_float(x.dtype(), "conv2d_forward", [&]<class scalar_t>() {
    if (g.pointwise()) return pointwise_forward<scalar_t>(x, w, bias, y, g, s);
    const Tensor w2 = w.view({g.K, g.rows()});  // [K, C·R·S]
    Tensor col_ws = Tensor::empty({g.rows() * chunk * g.pixels()}, x.dtype(), x.device());
    Tensor out_ws = Tensor::empty({g.K * chunk * g.pixels()}, x.dtype(), x.device());
    const scalar_t* pbias = bias.defined() ? bias.data<scalar_t>() : nullptr;
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const int64_t batch = std::min(chunk, g.N - n0), width = batch * g.pixels();
      Tensor col = matrix_in(col_ws, g.rows(), width);  // [C·R·S, B·Ho·Wo]
      Tensor out = matrix_in(out_ws, g.K, width);       // [K, B·Ho·Wo]
      fill_columns(x.data<scalar_t>() + n0 * g.C * g.H * g.W, g, batch, col, s);
      cuda::gemm(w2, col, out, {});
      from_channel_major_kernel<<<grid_for(out.numel()), kBlock, 0, s>>>(
          out.data<scalar_t>(), pbias, batch, g.K, g.pixels(),
          y.data<scalar_t>() + n0 * g.K * g.pixels());
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                     Tensor& dbias, const Conv2dParams& p, GradMode dx_mode) {
  const bool accumulate = dx_mode == GradMode::Accumulate;
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  cudaStream_t s = stream(x.device());
  const int64_t chunk = conv2d_chunk_samples(g);
  dispatch_float(x.dtype(), "conv2d_backward", [&]<class scalar_t>() {
    if (dbias.defined() && g.K > 0) {
      channel_sum_accumulate_kernel<<<static_cast<unsigned>(g.K), kBlock, 0, s>>>(
          dy.data<scalar_t>(), g.N, g.K, g.pixels(), dbias.data<scalar_t>());
      AN_CUDA_CHECK_LAUNCH();
    }
    if ((!dx.defined() && !dw.defined()) || dy.numel() == 0) return;
    if (g.pointwise()) return pointwise_backward<scalar_t>(x, w, dy, dx, dw, g, accumulate, s);
    const Tensor w2 = w.view({g.K, g.rows()});  // [K, C·R·S]
    Tensor dw2 = dw.defined() ? dw.view({g.K, g.rows()}) : Tensor();
    Tensor col_ws = Tensor::empty({g.rows() * chunk * g.pixels()}, x.dtype(), x.device());
    Tensor dy_ws = Tensor::empty({g.K * chunk * g.pixels()}, x.dtype(), x.device());
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const int64_t batch = std::min(chunk, g.N - n0), width = batch * g.pixels();
      Tensor col = matrix_in(col_ws, g.rows(), width);  // [C·R·S, B·Ho·Wo]
      Tensor dyc = matrix_in(dy_ws, g.K, width);        // [K, B·Ho·Wo]
      to_channel_major_kernel<<<grid_for(dyc.numel()), kBlock, 0, s>>>(
          dy.data<scalar_t>() + n0 * g.K * g.pixels(), batch, g.K, g.pixels(),
          dyc.data<scalar_t>());
      AN_CUDA_CHECK_LAUNCH();
      if (dw.defined()) {  // dw [K, C·R·S] += dy · colᵀ
        fill_columns(x.data<scalar_t>() + n0 * g.C * g.H * g.W, g, batch, col, s);
        cuda::gemm(dyc, col, dw2, {.trans_b = true, .beta = 1.0});
      }
      if (!dx.defined()) continue;
      cuda::gemm(w2, dyc, col, {.trans_a = true});  // dcol = weightᵀ · dy, reusing col
      scalar_t* pdx = dx.data<scalar_t>() + n0 * g.C * g.H * g.W;
      col2im_kernel<<<grid_for(batch * g.C * g.H * g.W), kBlock, 0, s>>>(col.data<scalar_t>(), g,
                                                                         batch, accumulate, pdx);
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
