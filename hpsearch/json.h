// hpsearch keeps JSON objects in insertion order: a space's dimension order decides which random
// numbers each parameter gets, so it must survive a round trip through the study file.
#pragma once
#include <nlohmann/json.hpp>

namespace autonet::hpsearch {
using Json = nlohmann::ordered_json;
}  // namespace autonet::hpsearch
