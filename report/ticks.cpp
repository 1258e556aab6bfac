#include "report/ticks.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace autonet::report {

std::vector<double> nice_ticks(double low, double high, int count) {
  if (!(high > low)) return {low};
  const double raw = (high - low) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  // Counting steps from an integer start keeps the positions free of accumulated rounding.
  const double first = std::ceil(low / step - 1e-9);
  for (double k = first; k * step <= high + step * 1e-9; k += 1)
    ticks.push_back(k == 0 ? 0.0 : k * step);
  return ticks;
}

std::vector<double> log_ticks(double low, double high) {
  if (!(low > 0) || !(high > low)) return nice_ticks(low, high);
  const int first = static_cast<int>(std::ceil(std::log10(low) - 1e-9));
  const int last = static_cast<int>(std::floor(std::log10(high) + 1e-9));
  std::vector<double> ticks;
  if (last - first >= 1) {
    const int every = (last - first) / 6 + 1;  // at most about 7 labels
    for (int e = first; e <= last; e += every) ticks.push_back(std::pow(10.0, e));
    return ticks;
  }
  for (int e = first - 1; e <= last; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * std::pow(10.0, e);
      if (t >= low * (1 - 1e-9) && t <= high * (1 + 1e-9)) ticks.push_back(t);
    }
  return ticks.size() >= 2 ? ticks : nice_ticks(low, high);
}

std::string tick_label(double value, double step) {
  auto far = [](double v) { return std::abs(v) >= 1e6 || std::abs(v) < 1e-4; };
  if (far(step) || (value != 0 && far(value))) return value == 0 ? "0" : fmt::format("{:.3g}", value);
  int decimals = 0;
  while (decimals < 6) {
    const double scaled = step * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  return fmt::format("{:.{}f}", value, decimals);
}

}  // namespace autonet::report
