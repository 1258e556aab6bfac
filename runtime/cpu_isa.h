// Which instruction set the CPU kernels run in. Every kernels/cpu file is compiled for x86-64's
// baseline (SSE2) and, in GCC builds for x86-64, again for x86-64-v3 (AVX2, FMA) and x86-64-v4
// (AVX-512), each in a namespace of its own (kernels/cpu/isa.h); a kernel call runs the variant
// chosen here, the best this CPU has unless AUTONET_CPU_ISA names another (as ATen's
// ATEN_CPU_CAPABILITY does). The loops are the same code: wider vectors, no fused multiply-adds
// (-ffp-contract=off) and sums in fixed lanes, so every variant gives the baseline's bits and the
// choice changes only the speed (OpCaseTest.EveryCpuInstructionSetGivesTheBaselinesBits).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace autonet {

enum class CpuIsa { baseline, x86_64_v3, x86_64_v4 };

// "baseline", "x86-64-v3", "x86-64-v4".
const char* cpu_isa_name(CpuIsa isa);
// The instruction set named `name` (as cpu_isa_name spells it); an error naming `where` (the
// variable or flag it came from) and the names allowed otherwise.
CpuIsa parse_cpu_isa(std::string_view name, const std::string& where);

// The variants this build has (baseline first), and whether this CPU can run `isa`.
std::vector<CpuIsa> built_cpu_isas();
bool cpu_supports(CpuIsa isa);

// The variant the CPU kernels run in: on first use, AUTONET_CPU_ISA's if set (an error if this
// build lacks it or this CPU cannot run it), else the best one built that this CPU runs.
CpuIsa cpu_isa();
// Chooses the variant (an error if unbuilt or unsupported): tests and benchmarks compare them.
void set_cpu_isa(CpuIsa isa);

// Sets the variant for its lifetime, then restores the one before.
class CpuIsaSwitch {
 public:
  explicit CpuIsaSwitch(CpuIsa isa);
  ~CpuIsaSwitch();
  CpuIsaSwitch(const CpuIsaSwitch&) = delete;
  CpuIsaSwitch& operator=(const CpuIsaSwitch&) = delete;

 private:
  CpuIsa previous_;
};

// For `autonet info`: the variant in use, why, and the ones built.
std::string cpu_isa_description();

}  // namespace autonet
