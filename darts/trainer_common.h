// Pieces the DARTS image tasks (search and training from scratch) share beyond the run layer
// (run/): config JSON, the weight schedule's flag checks and data subsets.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>

#include "datasets/image_dataset.h"
#include "run/engine.h"

// to_json and from_json of a run config from its X-macro list of fields: each field under its
// own name; keys a JSON object lacks keep the config's defaults. Used inside namespace
// autonet::darts of the trainer's .cpp:  AN_DEFINE_CONFIG_JSON(SearchRunConfig, FIELDS)
#define AN_CONFIG_FIELD_TO_JSON(field) j[#field] = c.field;
#define AN_CONFIG_FIELD_FROM_JSON(field) \
  if (j.contains(#field)) j.at(#field).get_to(c.field);
#define AN_DEFINE_CONFIG_JSON(Type, FIELDS)                    \
  void to_json(nlohmann::json& j, const Type& c) {             \
    j = nlohmann::json::object();                              \
    FIELDS(AN_CONFIG_FIELD_TO_JSON)                            \
  }                                                            \
  void from_json(const nlohmann::json& j, Type& c) { FIELDS(AN_CONFIG_FIELD_FROM_JSON) }

namespace autonet::darts {

// The trainers' entry points take the run layer's options (run/engine.h).
using RunOptions = run::RunOptions;

// The weight schedule's flags both image trainers share (--epochs … --grad-clip), each refused
// with its flag's name.
void check_sgd_flags(int64_t epochs, int64_t batch_size, double learning_rate,
                     double learning_rate_min, double momentum, double weight_decay,
                     double grad_clip);
// The first `n` images of a set (n ≤ 0: all of it), sharing the pixels.
data::ImageSet first_images(const data::ImageSet& set, int64_t n);

}  // namespace autonet::darts
