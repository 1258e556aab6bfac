// old + value rounded once, never fused into a multiply-add with value's last product (nvcc
// contracts a·b + c by default): what writing value and adding it in a second pass gives. The
// backward kernels that add a gradient into one already there (GradMode::Accumulate) use it.
#pragma once

namespace autonet::cuda {

__device__ inline float add_unfused(float old, float value) { return __fadd_rn(old, value); }
__device__ inline double add_unfused(double old, double value) { return __dadd_rn(old, value); }

}  // namespace autonet::cuda
