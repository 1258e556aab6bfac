// The DARTS mixed op's weighted sum: out = Σ_k w[k] · y_k over K same-shape candidate outputs, and
// its gradients: dy_k = w[k] · dout and dw[k] = <dout, y_k> (one fused reduction for all k).
#pragma once
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

constexpr int kMaxMixedInputs = 16;

// The inputs of every mixed-op entry (this family's and bn_mixed_sum's): weights [K], a float
// vector, and 1 ≤ K ≤ max_inputs same-shape contiguous candidates of its dtype and device.
void check_mixed_inputs(const Tensor& weights, const std::vector<Tensor>& candidates,
                        const char* what, int max_inputs = kMaxMixedInputs);

AN_CPU_TWINS(void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys,
                                    Tensor& out);
             void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys,
                                     const Tensor& dout, std::vector<Tensor>& dys,
                                     Tensor& dweights);)
namespace cuda {
void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out);
void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys, const Tensor& dout,
                        std::vector<Tensor>& dys, Tensor& dweights);
}  // namespace cuda

// weights [K] on the same device as the ys (no host sync); 1 ≤ K ≤ kMaxMixedInputs.
void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out);
// dys[k] written (undefined entries skipped); dweights [K] accumulates (undefined: skipped).
void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys, const Tensor& dout,
                        std::vector<Tensor>& dys, Tensor& dweights);

}  // namespace autonet
