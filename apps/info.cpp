// `autonet info`: what this build and this machine offer.
#include "apps/commands.h"

#include <fmt/core.h>

#include <omp.h>

#include <thread>

#include "kernels/cpu/sample_loop.h"
#include "runtime/cpu_isa.h"
#include "runtime/device.h"
#include "runtime/host_malloc.h"
#include "runtime/openmp_waiting.h"

namespace autonet::apps {

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Print the build configuration and the devices seen");
  cmd->callback([] {
    fmt::print("autonet {}\n", AUTONET_VERSION);
    fmt::print("build:    CUDA {}\n", built_with_cuda() ? "on" : "off (AUTONET_WITH_CUDA=OFF)");
    fmt::print("cpu:      {} hardware threads; kernels for {}\n",
               std::thread::hardware_concurrency(), cpu_isa_description());
    fmt::print("openmp:   {} threads; idle workers wait: {}\n", omp_get_max_threads(),
               openmp_waiting());
    fmt::print("memory:   freed host memory kept by the C library: {}\n", host_malloc());
    fmt::print("blas:     {}\n", cpu::blas_description());
    if (!built_with_cuda()) return;
    const CudaVersions v = cuda_versions();
    fmt::print("cuda:     runtime {}.{}, driver {}\n", v.runtime / 1000, (v.runtime % 1000) / 10,
               v.driver ? fmt::format("{}.{}", v.driver / 1000, (v.driver % 1000) / 10)
                        : std::string("none"));
    std::string why;
    if (!cuda_available(&why)) {
      fmt::print("gpu:      none usable ({}); everything runs on the CPU\n", why);
      return;
    }
    for (const CudaDeviceInfo& d : cuda_devices())
      fmt::print("gpu {}:    {} (sm_{}{}, {} SMs), {:.1f} GiB total, {:.1f} GiB free\n", d.index,
                 d.name, d.compute_major, d.compute_minor, d.multiprocessors,
                 d.total_memory / 1073741824.0, d.free_memory / 1073741824.0);
  });
}

}  // namespace autonet::apps
