#include "runtime/openmp_waiting.h"

#include <unistd.h>

#include <cstdlib>

namespace autonet {
namespace {
// The variables that say how libgomp's idle workers wait.
constexpr const char* kWaitingVariables[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"};
}  // namespace

void choose_openmp_waiting(char** argv) {
  for (const char* name : kWaitingVariables)
    if (std::getenv(name) != nullptr) return;
  setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}

std::string openmp_waiting() {
  std::string how;
  for (const char* name : kWaitingVariables)
    if (const char* value = std::getenv(name))
      how += (how.empty() ? "" : ", ") + std::string(name) + "=" + value;
  return how.empty() ? "the OpenMP runtime's default" : how;
}

}  // namespace autonet
