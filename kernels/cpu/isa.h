// Opens and closes a CPU twin file's kernels: namespace cpu's variant for this translation unit
// (kernels/dispatch.h, AN_CPU_ISA), and in a variant's translation unit GCC's code generation for
// its x86-64 level (runtime/cpu_isa.h). AN_CPU_KERNELS_BEGIN comes after every include: what the
// includes define (the standard library's templates, the shared inline formulas) stays baseline
// code, so the linker's pick among their identical copies from different translation units never
// brings AVX into baseline code; the variant's own functions, lambdas and OpenMP regions are
// compiled for its level, and the formulas inline into them.
#pragma once
#include "kernels/dispatch.h"

#if !defined(AN_CPU_ISA_LEVEL) || AN_CPU_ISA_LEVEL == 0
#define AN_CPU_TARGET_BEGIN
#define AN_CPU_TARGET_END
#elif AN_CPU_ISA_LEVEL == 3
#define AN_CPU_TARGET_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"arch=x86-64-v3\")")
#define AN_CPU_TARGET_END _Pragma("GCC pop_options")
#elif AN_CPU_ISA_LEVEL == 4
#define AN_CPU_TARGET_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"arch=x86-64-v4\")")
#define AN_CPU_TARGET_END _Pragma("GCC pop_options")
#endif

#define AN_CPU_KERNELS_BEGIN \
  AN_CPU_TARGET_BEGIN        \
  namespace autonet::cpu {   \
  inline namespace AN_CPU_ISA {
#define AN_CPU_KERNELS_END \
  }                        \
  }                        \
  AN_CPU_TARGET_END
