// The one place a public kernel entry chooses its twin (cpu::f on the host, cuda::f on a GPU), and
// the one place the twins' declarations are spelled.
// A CPU-only build never names the cuda:: symbols, so no stubs are needed.
#pragma once
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

#if AUTONET_WITH_CUDA
#define AN_ON_DEVICE(device, cpu_call, cuda_call) \
  do {                                            \
    if ((device).is_cuda()) {                     \
      cuda_call;                                  \
    } else {                                      \
      cpu_call;                                   \
    }                                             \
  } while (0)
#else
#define AN_ON_DEVICE(device, cpu_call, cuda_call)                                          \
  do {                                                                                     \
    AN_CHECK(!(device).is_cuda()) << "autonet was built without CUDA; tensor is on "       \
                                  << (device).str();                                       \
    cpu_call;                                                                              \
  } while (0)
#endif

// Declares a family's public entries and, with the same signatures, their twins: autonet::f (the
// checked entry, kernels/F.cpp), cpu::f (kernels/cpu/F.cpp) and cuda::f (kernels/cuda/F.cu). Used
// inside namespace autonet; comments in the list stay with the declarations they describe.
#define AN_KERNEL_ENTRIES(...) \
  __VA_ARGS__                  \
  namespace cpu {              \
  __VA_ARGS__                  \
  }                            \
  namespace cuda {             \
  __VA_ARGS__                  \
  }

namespace autonet {
// How a backward kernel writes a gradient: overwrite it, or add into what is there.
enum class GradMode { Write, Accumulate };

// A twin's pointer to an optional tensor: null when undefined (a gradient nobody wants, untracked
// running statistics).
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
}  // namespace autonet
