// The one place a public kernel entry chooses its twin: cpu::f on the host, cuda::f on a GPU.
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
