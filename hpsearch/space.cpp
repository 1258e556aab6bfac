#include "hpsearch/space.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/error.h"

namespace autonet::hpsearch {

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Float: return "float";
    case ParamType::Int: return "int";
    case ParamType::Categorical: return "categorical";
  }
  return "?";
}

// The sampling interval of a numeric parameter (log-transformed for log ones). An int owns
// [low − ½, high + ½]: every integer gets a cell of the same width (in log space for log ints),
// so the bounds are as likely as the interior values.
std::pair<double, double> ParamSpec::unit_interval() const {
  const double widen = type == ParamType::Int ? 0.5 : 0.0;
  const double a = low - widen, b = high + widen;
  return log ? std::pair{std::log(a), std::log(b)} : std::pair{a, b};
}

double ParamSpec::to_unit(double value) const {
  AN_CHECK(numeric()) << "parameter '" << name << "' is categorical";
  const auto [a, b] = unit_interval();
  const double x = log ? std::log(value) : value;
  return std::clamp((x - a) / (b - a), 0.0, 1.0);
}

double ParamSpec::from_unit(double u) const {
  AN_CHECK(numeric()) << "parameter '" << name << "' is categorical";
  u = std::clamp(u, 0.0, 1.0);
  if (u == 0.0) return low;  // exactly the bounds: exp(log(x)) need not give x back
  if (u == 1.0) return high;
  const auto [a, b] = unit_interval();
  double x = a + u * (b - a);
  if (log) x = std::exp(x);
  if (type == ParamType::Int) x = std::round(x);
  return std::clamp(x, low, high);  // exp/log round-off must not leave the box
}

double ParamSpec::at_fraction(double f) const {
  AN_CHECK(numeric()) << "parameter '" << name << "' is categorical";
  f = std::clamp(f, 0.0, 1.0);
  if (f == 0.0) return low;
  if (f == 1.0) return high;
  double x = log ? std::exp(std::log(low) + f * (std::log(high) - std::log(low))) : low + f * (high - low);
  if (type == ParamType::Int) x = std::round(x);
  return std::clamp(x, low, high);
}

Json ParamSpec::to_json(double x) const {
  switch (type) {
    case ParamType::Float: return x;
    case ParamType::Int: return static_cast<int64_t>(std::llround(x));
    case ParamType::Categorical: return choices.at(static_cast<size_t>(x));
  }
  return nullptr;
}

double ParamSpec::from_json(const Json& value, bool check_range) const {
  if (type == ParamType::Categorical) {
    for (size_t i = 0; i < choices.size(); ++i)
      if (choices[i] == value) return static_cast<double>(i);
    AN_THROW() << "parameter '" << name << "': " << value.dump() << " is not one of its choices";
  }
  AN_CHECK(value.is_number()) << "parameter '" << name << "': expected a number, got "
                              << value.dump();
  const double x = value.get<double>();
  AN_CHECK(!check_range || (x >= low && x <= high)) << "parameter '" << name << "': " << x << " is outside ["
                                  << low << ", " << high << "]";
  AN_CHECK(type != ParamType::Int || x == std::round(x))
      << "parameter '" << name << "': " << x << " is not an integer";
  return x;
}

namespace {

double number_field(const std::string& name, const Json& spec, const char* key) {
  AN_CHECK(spec.contains(key)) << "parameter '" << name << "': missing \"" << key << "\"";
  AN_CHECK(spec[key].is_number()) << "parameter '" << name << "': \"" << key
                                  << "\" must be a number, got " << spec[key].dump();
  const double v = spec[key].get<double>();
  AN_CHECK(std::isfinite(v)) << "parameter '" << name << "': \"" << key << "\" is not finite";
  return v;
}

ParamSpec parse_param(const std::string& name, const Json& spec) {
  AN_CHECK(!name.empty()) << "a parameter has an empty name";
  AN_CHECK(spec.is_object()) << "parameter '" << name << "': expected an object, got "
                             << spec.dump();
  static const std::set<std::string> known{"type", "low", "high", "log", "choices", "default"};
  for (const auto& [key, _] : spec.items())
    AN_CHECK(known.count(key)) << "parameter '" << name << "': unknown field \"" << key
                               << "\" (known: type, low, high, log, choices, default)";
  AN_CHECK(spec.contains("type") && spec["type"].is_string())
      << "parameter '" << name << "': missing \"type\" (float, int or categorical)";
  const std::string type = spec["type"].get<std::string>();
  ParamSpec p;
  p.name = name;
  if (type == "float") {
    p.type = ParamType::Float;
  } else if (type == "int") {
    p.type = ParamType::Int;
  } else if (type == "categorical") {
    p.type = ParamType::Categorical;
  } else {
    AN_THROW() << "parameter '" << name << "': unknown type \"" << type
               << "\" (expected float, int or categorical)";
  }
  if (p.type == ParamType::Categorical) {
    AN_CHECK(!spec.contains("low") && !spec.contains("high") && !spec.contains("log"))
        << "parameter '" << name << "': a categorical takes \"choices\", not low/high/log";
    AN_CHECK(spec.contains("choices") && spec["choices"].is_array() && !spec["choices"].empty())
        << "parameter '" << name << "': a categorical needs a non-empty \"choices\" array";
    for (const Json& c : spec["choices"]) {
      AN_CHECK(c.is_primitive() && !c.is_null())
          << "parameter '" << name << "': choice " << c.dump() << " must be a string, number or bool";
      AN_CHECK(std::find(p.choices.begin(), p.choices.end(), c) == p.choices.end())
          << "parameter '" << name << "': choice " << c.dump() << " appears twice";
      p.choices.push_back(c);
    }
    p.default_value = spec.contains("default") ? spec["default"] : p.choices.front();
    p.from_json(p.default_value);  // validates
    return p;
  }
  AN_CHECK(!spec.contains("choices")) << "parameter '" << name << "': only categoricals take \"choices\"";
  p.low = number_field(name, spec, "low");
  p.high = number_field(name, spec, "high");
  if (spec.contains("log")) {
    AN_CHECK(spec["log"].is_boolean()) << "parameter '" << name << "': \"log\" must be true or false";
    p.log = spec["log"].get<bool>();
  }
  AN_CHECK(p.low < p.high) << "parameter '" << name << "': empty range [" << p.low << ", "
                           << p.high << "] (low must be below high)";
  if (p.type == ParamType::Int) {
    AN_CHECK(p.low == std::round(p.low) && p.high == std::round(p.high))
        << "parameter '" << name << "': int bounds must be integers, got [" << p.low << ", "
        << p.high << "]";
  }
  AN_CHECK(!p.log || p.low > 0) << "parameter '" << name << "': log scale needs positive bounds, got low = "
                                << p.low;
  if (spec.contains("default")) {
    p.default_value = spec["default"];
    p.from_json(p.default_value);
  } else {
    p.default_value = p.to_json(p.at_fraction(0.5));
  }
  return p;
}

}  // namespace

Space::Space(std::vector<ParamSpec> params) : params_(std::move(params)) {
  std::set<std::string> names;
  for (const ParamSpec& p : params_)
    AN_CHECK(names.insert(p.name).second) << "parameter '" << p.name << "' is defined twice";
}

Space Space::from_json(const Json& spec) {
  AN_CHECK(spec.is_object()) << "the search space must be an object {name: {type, ...}}, got "
                             << spec.dump();
  AN_CHECK(!spec.empty()) << "the search space is empty";
  std::vector<ParamSpec> params;
  for (const auto& [name, p] : spec.items()) params.push_back(parse_param(name, p));
  return Space(std::move(params));
}

Json Space::to_json() const {
  Json out = Json::object();
  for (const ParamSpec& p : params_) {
    Json j;
    j["type"] = param_type_name(p.type);
    if (p.numeric()) {
      j["low"] = p.type == ParamType::Int ? Json(static_cast<int64_t>(p.low)) : Json(p.low);
      j["high"] = p.type == ParamType::Int ? Json(static_cast<int64_t>(p.high)) : Json(p.high);
      if (p.log) j["log"] = true;
    } else {
      j["choices"] = p.choices;
    }
    j["default"] = p.default_value;
    out[p.name] = j;
  }
  return out;
}

int Space::index_of(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].name == name) return static_cast<int>(i);
  return -1;
}

Point Space::decode(const std::vector<double>& u) const {
  AN_CHECK(u.size() == params_.size()) << "decode: " << u.size() << " coordinates for "
                                       << params_.size() << " parameters";
  Point x(u.size());
  for (size_t i = 0; i < u.size(); ++i) {
    const ParamSpec& p = params_[i];
    if (p.numeric()) {
      x[i] = p.from_unit(u[i]);
    } else {
      const double k = static_cast<double>(p.choices.size());
      x[i] = std::min(k - 1, std::floor(std::clamp(u[i], 0.0, 1.0) * k));
    }
  }
  return x;
}

std::vector<double> Space::encode(const Point& point) const {
  AN_CHECK(point.size() == params_.size()) << "encode: " << point.size() << " values for "
                                           << params_.size() << " parameters";
  std::vector<double> u(point.size());
  for (size_t i = 0; i < u.size(); ++i) {
    const ParamSpec& p = params_[i];
    u[i] = p.numeric() ? p.to_unit(point[i])
                       : (point[i] + 0.5) / static_cast<double>(p.choices.size());
  }
  return u;
}

Json Space::params_json(const Point& point) const {
  AN_CHECK(point.size() == params_.size()) << "params_json: size mismatch";
  Json out = Json::object();
  for (size_t i = 0; i < point.size(); ++i) out[params_[i].name] = params_[i].to_json(point[i]);
  return out;
}

Point Space::point_from_json(const Json& params, bool check_range) const {
  AN_CHECK(params.is_object()) << "trial parameters must be an object, got " << params.dump();
  Point x(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    AN_CHECK(params.contains(params_[i].name)) << "trial parameters lack '" << params_[i].name << "'";
    x[i] = params_[i].from_json(params[params_[i].name], check_range);
  }
  return x;
}

Point Space::defaults() const {
  Point x(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) x[i] = params_[i].from_json(params_[i].default_value);
  return x;
}

}  // namespace autonet::hpsearch
