// A declarative search space: named float, int (either optionally log-scaled) and categorical
// parameters, each with a default. Samplers work in the unit cube: every numeric parameter maps to
// u ∈ [0, 1] (through log for log-scaled ones), a categorical to its index.
//
//   {"lr":      {"type": "float", "low": 1e-3, "high": 1e-1, "log": true, "default": 0.01},
//    "epochs":  {"type": "int", "low": 5, "high": 25},
//    "opt":     {"type": "categorical", "choices": ["sgd", "adam"], "default": "sgd"}}
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "hpsearch/json.h"

namespace autonet::hpsearch {

enum class ParamType { Float, Int, Categorical };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  double low = 0, high = 1;  // Float/Int bounds, inclusive
  bool log = false;          // sample uniformly in log(value)
  std::vector<Json> choices; // Categorical
  Json default_value;        // always set after parsing (midpoint / first choice when not given)

  bool numeric() const { return type != ParamType::Categorical; }
  // Numeric: value ↔ u ∈ [0,1]; ints are rounded when decoded, each integer owning an equal
  // share of [0, 1] (the bounds included), so a uniform u gives uniform integers.
  double to_unit(double value) const;
  double from_unit(double u) const;
  // The value at fraction f of [low, high] (in log space for log ones; ints rounded): evenly
  // spaced grid points with both bounds, the midpoint default.
  double at_fraction(double f) const;
  // The JSON value a trial receives for internal value `x` (numeric value or category index).
  Json to_json(double x) const;
  // Internal value of a JSON value (a known category; in range unless check_range is false, which
  // seed-compat needs: the notebook's sampler leaves the box).
  double from_json(const Json& value, bool check_range = true) const;

 private:
  std::pair<double, double> unit_interval() const;
};

// A point in the space in internal units: numeric values as themselves, categoricals as indices.
using Point = std::vector<double>;

class Space {
 public:
  Space() = default;
  explicit Space(std::vector<ParamSpec> params);
  // Parses and validates; throws autonet::Error naming the parameter and the problem.
  static Space from_json(const Json& spec);
  Json to_json() const;

  const std::vector<ParamSpec>& params() const { return params_; }
  size_t size() const { return params_.size(); }
  const ParamSpec& operator[](size_t i) const { return params_[i]; }
  int index_of(const std::string& name) const;  // -1 when absent

  // u ∈ [0,1]^D (categoricals: u selects index floor(u·K)) → point, and back (categorical index
  // i → centre of its cell, (i + 0.5)/K).
  Point decode(const std::vector<double>& u) const;
  std::vector<double> encode(const Point& point) const;
  Json params_json(const Point& point) const;  // {"name": value, ...}
  Point point_from_json(const Json& params, bool check_range = true) const;
  Point defaults() const;

 private:
  std::vector<ParamSpec> params_;
};

const char* param_type_name(ParamType type);

}  // namespace autonet::hpsearch
