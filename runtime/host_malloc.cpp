#include "runtime/host_malloc.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace autonet {
namespace {
bool chosen = false;  // choose_host_malloc set both thresholds

const char* user_tunables() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr ? tunables
                                                                                  : nullptr;
}
}  // namespace

void choose_host_malloc() {
  if (chosen || user_tunables() != nullptr) return;
  // mallopt returns 1 on success; setting the mmap threshold also stops its growth.
  chosen = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHostMmapThreshold)) == 1 &&
           mallopt(M_TRIM_THRESHOLD, static_cast<int>(kHostTrimThreshold)) == 1;
}

std::string host_malloc() {
  if (chosen)
    return "mmap from " + std::to_string(kHostMmapThreshold >> 20) + " MiB, trim above " +
           std::to_string(kHostTrimThreshold >> 20) + " MiB";
  if (const char* tunables = user_tunables()) return std::string("GLIBC_TUNABLES=") + tunables;
  return "the C library's default";
}

}  // namespace autonet
