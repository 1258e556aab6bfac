#include "runtime/cpu_isa.h"

#include <atomic>
#include <cstdlib>

#include "runtime/error.h"

namespace autonet {
namespace {

constexpr CpuIsa kIsas[] = {CpuIsa::baseline, CpuIsa::x86_64_v3, CpuIsa::x86_64_v4};
constexpr const char* kVariable = "AUTONET_CPU_ISA";

bool built(CpuIsa isa) {
#if AUTONET_CPU_VARIANTS
  (void)isa;
  return true;
#else
  return isa == CpuIsa::baseline;
#endif
}

CpuIsa best_supported() {
  CpuIsa best = CpuIsa::baseline;
  for (CpuIsa isa : kIsas)
    if (built(isa) && cpu_supports(isa)) best = isa;
  return best;
}

void check_runnable(CpuIsa isa, const std::string& where) {
  AN_CHECK(built(isa)) << where << ": this build has no " << cpu_isa_name(isa)
                       << " kernels (AUTONET_CPU_VARIANTS=OFF, or not x86-64 with GCC)";
  AN_CHECK(cpu_supports(isa)) << where << ": this CPU cannot run " << cpu_isa_name(isa)
                              << " code; the best it runs is " << cpu_isa_name(best_supported());
}

// The chosen variant as an int; -1 until the first cpu_isa().
std::atomic<int> chosen{-1};

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::baseline:
      return "baseline";
    case CpuIsa::x86_64_v3:
      return "x86-64-v3";
    case CpuIsa::x86_64_v4:
      return "x86-64-v4";
  }
  return "?";
}

CpuIsa parse_cpu_isa(std::string_view name, const std::string& where) {
  for (CpuIsa isa : kIsas)
    if (name == cpu_isa_name(isa)) return isa;
  AN_THROW() << where << ": unknown instruction set '" << name
             << "' (expected baseline, x86-64-v3 or x86-64-v4)";
}

std::vector<CpuIsa> built_cpu_isas() {
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : kIsas)
    if (built(isa)) isas.push_back(isa);
  return isas;
}

bool cpu_supports(CpuIsa isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::baseline:
      return true;
    case CpuIsa::x86_64_v3:
      return __builtin_cpu_supports("x86-64-v3");
    case CpuIsa::x86_64_v4:
      return __builtin_cpu_supports("x86-64-v4");
  }
  return false;
#else
  return isa == CpuIsa::baseline;
#endif
}

CpuIsa cpu_isa() {
  int isa = chosen.load(std::memory_order_relaxed);
  if (isa < 0) {
    CpuIsa first = best_supported();
    if (const char* name = std::getenv(kVariable)) {
      const std::string where = std::string(kVariable) + "=" + name;
      first = parse_cpu_isa(name, where);
      check_runnable(first, where);
    }
    isa = static_cast<int>(first);
    chosen.store(isa, std::memory_order_relaxed);
  }
  return static_cast<CpuIsa>(isa);
}

void set_cpu_isa(CpuIsa isa) {
  check_runnable(isa, std::string("set_cpu_isa(") + cpu_isa_name(isa) + ")");
  chosen.store(static_cast<int>(isa), std::memory_order_relaxed);
}

CpuIsaSwitch::CpuIsaSwitch(CpuIsa isa) : previous_(cpu_isa()) {
  set_cpu_isa(isa);
}
CpuIsaSwitch::~CpuIsaSwitch() {
  chosen.store(static_cast<int>(previous_), std::memory_order_relaxed);
}

std::string cpu_isa_description() {
  std::string text = cpu_isa_name(cpu_isa());
  text += std::getenv(kVariable)
              ? std::string(" (") + kVariable + ")"
              : std::string(" (the best this CPU runs; ") + kVariable + " chooses)";
  text += "; built:";
  for (CpuIsa isa : built_cpu_isas()) text += std::string(" ") + cpu_isa_name(isa);
  return text;
}

}  // namespace autonet
