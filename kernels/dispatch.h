// The one place a public kernel entry chooses its twin (cpu::f on the host, in the instruction set
// the process runs, cuda::f on a GPU), and the one place the twins' declarations are spelled.
// A CPU-only build never names the cuda:: symbols, so no stubs are needed.
#pragma once
#include "runtime/cpu_isa.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/op_profile.h"
#include "runtime/tensor.h"

// The namespace of this translation unit's CPU twins: baseline, or in a variant's translation
// unit (kernels/CMakeLists.txt sets AN_CPU_ISA_LEVEL) x86_64_v3 or x86_64_v4 (kernels/cpu/isa.h).
// The baseline's translation units, where the checked entries choose a level (AN_ON_CPU), also
// declare the other levels' twins (AN_CPU_OTHER_TWINS); a variant's twins call only their own.
#if !defined(AN_CPU_ISA_LEVEL) || AN_CPU_ISA_LEVEL == 0
#define AN_CPU_ISA baseline
#define AN_CPU_OTHER_TWINS(...) \
  namespace x86_64_v3 {         \
  __VA_ARGS__                   \
  }                             \
  namespace x86_64_v4 {         \
  __VA_ARGS__                   \
  }
#elif AN_CPU_ISA_LEVEL == 3
#define AN_CPU_ISA x86_64_v3
#define AN_CPU_OTHER_TWINS(...)
#elif AN_CPU_ISA_LEVEL == 4
#define AN_CPU_ISA x86_64_v4
#define AN_CPU_OTHER_TWINS(...)
#else
#error "AN_CPU_ISA_LEVEL is 0, 3 or 4"
#endif

// A CPU twin call in the variant the process runs (runtime/cpu_isa.h): `cpu` names that variant's
// namespace for the call (baseline: this translation unit's own, where cpu:: leads). Timed for a
// timed step profile (runtime/op_profile.h).
#if AUTONET_CPU_VARIANTS
#define AN_ON_CPU(cpu_call)                        \
  do {                                             \
    const ::autonet::TwinTimer an_twin_timer;      \
    switch (::autonet::cpu_isa()) {                \
      case ::autonet::CpuIsa::x86_64_v4: {         \
        namespace cpu = ::autonet::cpu::x86_64_v4; \
        cpu_call;                                  \
        break;                                     \
      }                                            \
      case ::autonet::CpuIsa::x86_64_v3: {         \
        namespace cpu = ::autonet::cpu::x86_64_v3; \
        cpu_call;                                  \
        break;                                     \
      }                                            \
      case ::autonet::CpuIsa::baseline:            \
        cpu_call;                                  \
        break;                                     \
    }                                              \
  } while (0)
#else
#define AN_ON_CPU(cpu_call)                   \
  do {                                        \
    const ::autonet::TwinTimer an_twin_timer; \
    cpu_call;                                 \
  } while (0)
#endif

#if AUTONET_WITH_CUDA
#define AN_ON_DEVICE(device, cpu_call, cuda_call) \
  do {                                            \
    if ((device).is_cuda()) {                     \
      cuda_call;                                  \
    } else {                                      \
      AN_ON_CPU(cpu_call);                        \
    }                                             \
  } while (0)
#else
#define AN_ON_DEVICE(device, cpu_call, cuda_call)                                    \
  do {                                                                               \
    AN_CHECK(!(device).is_cuda()) << "autonet was built without CUDA; tensor is on " \
                                  << (device).str();                                 \
    AN_ON_CPU(cpu_call);                                                             \
  } while (0)
#endif

// Declares CPU twins in this translation unit's level's namespace, inline, so that cpu::f names
// its own level's (a variant's twins call each other), and in the baseline's also the others'
// (cpu::x86_64_v4::f).
#define AN_CPU_TWINS(...)         \
  namespace cpu {                 \
  inline namespace AN_CPU_ISA {   \
  __VA_ARGS__                     \
  }                               \
  AN_CPU_OTHER_TWINS(__VA_ARGS__) \
  }

// Declares a family's public entries and, with the same signatures, their twins: autonet::f (the
// checked entry, kernels/F.cpp), cpu::f (kernels/cpu/F.cpp, in every CPU variant) and cuda::f
// (kernels/cuda/F.cu). Used inside namespace autonet; comments in the list stay with the
// declarations they describe.
#define AN_KERNEL_ENTRIES(...) \
  __VA_ARGS__                  \
  AN_CPU_TWINS(__VA_ARGS__)    \
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
