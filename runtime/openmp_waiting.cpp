#include "runtime/openmp_waiting.h"

#include <unistd.h>

#include <cstdlib>

namespace autonet {

void choose_openmp_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}

}  // namespace autonet
