// cuDNN baselines for the side-by-side ratios: the same workloads as bench_depthwise_conv2d,
// bench_pool2d and bench_batch_norm, timed the same way, with the same byte and FLOP counters, so
// ours/cuDNN can be read straight off the GB/s columns. Built only when cuDNN is found; the
// library never links cuDNN (only bench/ may). All rows skip without a GPU.
//
// Fairness notes: cuDNN's convolution runs in strict FP32 (CUDNN_FMA_MATH, no TF32) with the
// fastest algorithm cudnnFind reports; it does NOT apply the ReLU that ours folds into its loads,
// so it does slightly less work than our forward.
#include <cudnn.h>

#include "bench/bench_util.h"
#include "runtime/cuda_context.h"

#define AN_CUDNN_CHECK(expr)                                                                  \
  do {                                                                                        \
    const cudnnStatus_t an_status_ = (expr);                                                  \
    AN_CHECK(an_status_ == CUDNN_STATUS_SUCCESS) << #expr << ": " << cudnnGetErrorString(an_status_); \
  } while (0)

namespace autonet::bench {
namespace {

// One cuDNN handle for the process, bound to our compute stream so the device timer's events
// bracket exactly the cuDNN work.
cudnnHandle_t cudnn_handle(Device device) {
  static cudnnHandle_t handle = [&] {
    cudnnHandle_t h = nullptr;
    cuda::stream(device);  // makes the device current
    AN_CUDNN_CHECK(cudnnCreate(&h));
    AN_CUDNN_CHECK(cudnnSetStream(h, cuda::stream(device)));
    return h;
  }();
  return handle;
}

// RAII holder of one cuDNN descriptor: created with the holder, destroyed with it.
template <typename T, cudnnStatus_t (*create)(T*), cudnnStatus_t (*destroy)(T)>
struct Descriptor {
  T d = nullptr;
  Descriptor() { AN_CUDNN_CHECK(create(&d)); }
  ~Descriptor() { destroy(d); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
};

// The descriptors a row needs; tensors and filters are NCHW float.
struct TensorDesc : Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                               cudnnDestroyTensorDescriptor> {
  TensorDesc() = default;
  explicit TensorDesc(const Shape& nchw) {
    AN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                              static_cast<int>(nchw[0]), static_cast<int>(nchw[1]),
                                              static_cast<int>(nchw[2]), static_cast<int>(nchw[3])));
  }
};

struct FilterDesc : Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                               cudnnDestroyFilterDescriptor> {
  FilterDesc(int k_out, int c_per_group, int r, int s) {
    AN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k_out,
                                              c_per_group, r, s));
  }
};

using ConvDesc = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                            cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                            cudnnDestroyPoolingDescriptor>;

const float kOne = 1.0f, kZero = 0.0f;

// --------------------------------------------------------------------------------------------
// Depthwise convolution = grouped convolution with groups = C. Args as BM_DepthwiseForward:
// device, N, C, H, W, k, dilation, stride.
void BM_CudnnDepthwiseForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int N = static_cast<int>(state.range(1)), C = static_cast<int>(state.range(2));
  const int H = static_cast<int>(state.range(3)), W = static_cast<int>(state.range(4));
  const int k = static_cast<int>(state.range(5)), dil = static_cast<int>(state.range(6));
  const int stride = static_cast<int>(state.range(7)), pad = dil * (k - 1) / 2;
  cudnnHandle_t handle = cudnn_handle(device);

  TensorDesc x_desc({N, C, H, W});
  FilterDesc w_desc(C, 1, k, k);
  ConvDesc conv;
  AN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.d, pad, pad, stride, stride, dil, dil,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  AN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.d, C));
  AN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.d, CUDNN_FMA_MATH));
  int yn, yc, yh, yw;
  AN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv.d, x_desc.d, w_desc.d, &yn, &yc, &yh, &yw));
  TensorDesc y_desc({yn, yc, yh, yw});

  Tensor x = random_tensor({N, C, H, W}, device), w = random_tensor({C, 1, k, k}, device, 2);
  Tensor y = Tensor::empty({yn, yc, yh, yw}, DType::f32, device);

  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  AN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle, x_desc.d, w_desc.d, conv.d, y_desc.d,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
  AN_CHECK(found > 0 && perf[0].status == CUDNN_STATUS_SUCCESS) << "cuDNN has no forward algorithm";
  const cudnnConvolutionFwdAlgo_t algo = perf[0].algo;
  size_t workspace_bytes = 0;
  AN_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc.d, w_desc.d, conv.d,
                                                         y_desc.d, algo, &workspace_bytes));
  Tensor workspace = Tensor::empty({static_cast<int64_t>(workspace_bytes) + 1}, DType::u8, device);

  const double bytes = double(x.nbytes() + w.nbytes() + y.nbytes());
  run_timed(
      state, device,
      [&] {
        AN_CUDNN_CHECK(cudnnConvolutionForward(handle, &kOne, x_desc.d, x.data<float>(), w_desc.d,
                                               w.data<float>(), conv.d, algo, workspace.raw_data(),
                                               workspace_bytes, &kZero, y_desc.d, y.data<float>()));
      },
      bytes, 2.0 * k * k * y.numel());
  state.counters["algo"] = static_cast<double>(algo);
}

// --------------------------------------------------------------------------------------------
// Pooling: DARTS' 3×3 windows, padding 1, average excluding padding. Args as BM_PoolForward:
// device, N, C, H, W, mode (0 max, 1 avg), stride.
void BM_CudnnPoolForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int N = static_cast<int>(state.range(1)), C = static_cast<int>(state.range(2));
  const int H = static_cast<int>(state.range(3)), W = static_cast<int>(state.range(4));
  const bool is_max = state.range(5) == 0;
  const int stride = static_cast<int>(state.range(6));
  cudnnHandle_t handle = cudnn_handle(device);

  PoolDesc pool;
  AN_CUDNN_CHECK(cudnnSetPooling2dDescriptor(
      pool.d, is_max ? CUDNN_POOLING_MAX : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
      CUDNN_NOT_PROPAGATE_NAN, 3, 3, 1, 1, stride, stride));
  TensorDesc x_desc({N, C, H, W});
  int yn, yc, yh, yw;
  AN_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool.d, x_desc.d, &yn, &yc, &yh, &yw));
  TensorDesc y_desc({yn, yc, yh, yw});
  Tensor x = random_tensor({N, C, H, W}, device);
  Tensor y = Tensor::empty({yn, yc, yh, yw}, DType::f32, device);
  run_timed(
      state, device,
      [&] {
        AN_CUDNN_CHECK(cudnnPoolingForward(handle, pool.d, &kOne, x_desc.d, x.data<float>(), &kZero,
                                           y_desc.d, y.data<float>()));
      },
      double(x.nbytes() + y.nbytes()), 9.0 * y.numel());
}

// --------------------------------------------------------------------------------------------
// Batch norm forward in training mode (batch statistics + running-average update), spatial
// (per channel). Bytes: x read and y written once (the per-channel vectors are negligible), the
// compulsory traffic; bench_batch_norm should count its forward the same way.
void BM_CudnnBatchNormForwardTraining(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int N = static_cast<int>(state.range(1)), C = static_cast<int>(state.range(2));
  const int H = static_cast<int>(state.range(3)), W = static_cast<int>(state.range(4));
  cudnnHandle_t handle = cudnn_handle(device);

  TensorDesc x_desc({N, C, H, W}), stats_desc;
  AN_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(stats_desc.d, x_desc.d, CUDNN_BATCHNORM_SPATIAL));
  Tensor x = random_tensor({N, C, H, W}, device), y = Tensor::empty({N, C, H, W}, DType::f32, device);
  // DARTS' search BNs are affine = false: scale 1, bias 0.
  Tensor scale = Tensor::full({C}, 1.0, DType::f32, device), bias = Tensor::zeros({C}, DType::f32, device);
  Tensor running_mean = Tensor::zeros({C}, DType::f32, device);
  Tensor running_var = Tensor::full({C}, 1.0, DType::f32, device);
  Tensor save_mean = Tensor::empty({C}, DType::f32, device), save_invstd = Tensor::empty({C}, DType::f32, device);
  run_timed(
      state, device,
      [&] {
        AN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
            handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, x_desc.d, x.data<float>(), x_desc.d,
            y.data<float>(), stats_desc.d, scale.data<float>(), bias.data<float>(), 0.1,
            running_mean.data<float>(), running_var.data<float>(), 1e-5, save_mean.data<float>(),
            save_invstd.data<float>()));
      },
      double(x.nbytes() + y.nbytes()));
}

// --------------------------------------------------------------------------------------------
// The same argument lists as our benchmarks (CUDA rows only).
void darts_depthwise(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W", "k", "dil", "stride"},
              darts_cell_op_rows({{3, 1}, {5, 1}, {3, 2}, {5, 2}}), {1});  // {k, dilation}
}

void darts_pools(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W", "mode", "stride"}, darts_cell_op_rows({{0}, {1}}), {1});
}

void darts_images(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W"}, kDartsActivations, {1});
}

BENCHMARK(BM_CudnnDepthwiseForward)->Apply(darts_depthwise);
BENCHMARK(BM_CudnnPoolForward)->Apply(darts_pools);
BENCHMARK(BM_CudnnBatchNormForwardTraining)->Apply(darts_images);

}  // namespace
}  // namespace autonet::bench
