// Batch normalisation over [N, C, H, W] (2d) or [N, C] (1d), PyTorch semantics: training uses the
// batch statistics (biased variance to normalise, unbiased variance into the running average:
// running ← (1 − momentum)·running + momentum·batch), eval uses the running statistics.
// affine = false: weight and bias are undefined tensors (DARTS' search-network BNs).
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

struct BatchNormParams {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
};

namespace cpu {
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p);
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p);
}  // namespace cpu
namespace cuda {
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p);
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p);
}  // namespace cuda

// y = (x − mean)·invstd·weight + bias per channel. Writes save_mean/save_invstd [C] (the batch's
// in training, the running ones in eval) for backward. In training, updates running_mean/var [C]
// in place when they are defined.
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p);
// dx written (through the batch statistics in training); dweight, dbias accumulate; undefined
// gradients are skipped.
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p);

}  // namespace autonet
