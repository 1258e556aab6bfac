// Wall time, rounding, finiteness checks, checkpoint entries, device names.
#include "run/common.h"

#include <cmath>

#include "kernels/reduce.h"
#include "runtime/error.h"

namespace autonet::run {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double rounded(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

std::vector<std::vector<double>> rounded(const std::vector<std::vector<double>>& m, int digits) {
  std::vector<std::vector<double>> out = m;
  for (auto& row : out)
    for (double& x : row) x = rounded(x, digits);
  return out;
}

namespace {
constexpr const char* kStopping =
    "; stopping without writing a checkpoint (those already written are kept as they were)";
}  // namespace

void check_finite(double value, const std::string& what, const std::string& where) {
  AN_CHECK(std::isfinite(value)) << "the " << what << " became " << value << " " << where
                                 << kStopping;
}

void check_finite_weights(const Tensor& flat_weights, const std::string& where) {
  const double norm = global_norm({flat_weights});
  AN_CHECK(std::isfinite(norm)) << "the weights hold a NaN or an infinity " << where << kStopping;
}

std::vector<NamedTensor> named(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors) out.push_back({name, t});
  return out;
}

void append(std::vector<NamedTensor>& to, const std::vector<NamedTensor>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

Device resolve_device(const std::string& name) {
  if (name == "auto" || name.empty()) return cuda_available() ? Device::cuda(0) : Device::cpu();
  const Device d = parse_device(name);
  if (d.is_cuda()) {
    std::string why;
    AN_CHECK(cuda_available(&why)) << "--device " << name << " asked for a GPU, but none is usable: "
                                   << why << " (use --device cpu)";
    AN_CHECK(d.index < cuda_device_count())
        << "--device " << name << ": only " << cuda_device_count() << " GPU(s) present";
  }
  return d;
}

}  // namespace autonet::run
