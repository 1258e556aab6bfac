// The value readers and bounds of darts/tasks/config_table.h.
#include "darts/tasks/config_table.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace autonet::darts {

namespace {
std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

bool Bounds::contains(double v) const {
  if (std::isnan(v)) return false;
  const bool above = low_open ? v > low : v >= low;
  const bool below = high_open ? v < high : v <= high;
  return above && below;
}

std::string Bounds::text() const {
  std::string t;
  if (std::isinf(high)) {
    if (std::isinf(low)) return "";
    if (low == 0) t = low_open ? "positive" : "non-negative";
    else t = (low_open ? "greater than " : "at least ") + number_text(low);
  } else {
    t = std::string("in ") + (low_open ? "(" : "[") + number_text(low) + ", " + number_text(high) +
        (high_open ? ")" : "]");
  }
  return why.empty() ? t : t + " (" + why + ")";
}

Bounds at_least(double low, std::string why) {
  Bounds b;
  b.low = low;
  b.why = std::move(why);
  return b;
}
Bounds positive() {
  Bounds b;
  b.low = 0;
  b.low_open = true;
  return b;
}
Bounds non_negative() { return at_least(0); }
Bounds closed(double low, double high) {
  Bounds b;
  b.low = low;
  b.high = high;
  return b;
}
Bounds half_open(double low, double high) {
  Bounds b = closed(low, high);
  b.high_open = true;
  return b;
}
Bounds open(double low, double high) {
  Bounds b = half_open(low, high);
  b.low_open = true;
  return b;
}

std::string bounds_problem(const Bounds& b, double value) {
  if (b.contains(value)) return "";
  return "must be " + b.text() + ", got " + number_text(value);
}

std::string flag_of(const std::string& key) {
  std::string flag = "--" + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

std::string read_json(const nlohmann::json& v, int64_t& out) {
  constexpr auto max = std::numeric_limits<int64_t>::max();
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max))
    return "is too large (at most " + std::to_string(max) + "), got " + v.dump();
  // Integers beyond uint64 arrive as floating-point numbers.
  const bool huge = v.is_number_float() && std::fabs(v.get<double>()) >= 0x1p63;
  if (huge) return "is too large (at most " + std::to_string(max) + "), got " + v.dump();
  if (!v.is_number_integer()) return "must be an integer, got " + v.dump();
  out = v.get<int64_t>();
  return "";
}

std::string read_json(const nlohmann::json& v, double& out) {
  if (!v.is_number()) return "must be a number, got " + v.dump();
  const double d = v.get<double>();
  // nlohmann reads 1e999 as infinity; it prints as null, so name what was meant.
  if (!std::isfinite(d)) return "must be a finite number, got " + number_text(d);
  out = d;
  return "";
}

std::string read_json(const nlohmann::json& v, bool& out) {
  if (!v.is_boolean()) return "must be true or false, got " + v.dump();
  out = v.get<bool>();
  return "";
}

std::string read_json(const nlohmann::json& v, std::string& out) {
  if (!v.is_string()) return "must be a string, got " + v.dump();
  out = v.get<std::string>();
  return "";
}

std::string read_text(const std::string& s, int64_t& out) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range)
    return "is out of range (int64: at most " +
           std::to_string(std::numeric_limits<int64_t>::max()) + "), got " + s;
  if (ec != std::errc() || end != s.data() + s.size()) return "must be an integer, got '" + s + "'";
  out = v;
  return "";
}

std::string read_text(const std::string& s, double& out) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && !std::isfinite(v)))
    return "must be a finite number, got " + s;
  if (ec != std::errc() || end != s.data() + s.size()) return "must be a number, got '" + s + "'";
  out = v;
  return "";
}

std::string read_text(const std::string& s, bool& out) {
  if (s != "true" && s != "false") return "must be true or false, got '" + s + "'";
  out = s == "true";
  return "";
}

std::string read_text(const std::string& s, std::string& out) {
  out = s;
  return "";
}

}  // namespace autonet::darts
