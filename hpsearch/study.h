// A study's configuration file (JSON, or the same in TOML: load_study_config), validated in one
// place:
//   {"name": "lr-search", "seed": 0, "direction": "minimize", "objective": "val_loss",
//    "space":    {...see space.h...},
//    "sampler":  {"name": "wr2p"},                  (default)
//    "pruner":   {"name": "none"},                  (default)
//    "workload": {"name": "synthetic", ...},        passed to the trial workload as is
//    "budget":   {"trials": 20, "wall_s": 0, "trial_s": 0, "retries": 2},   0 = unlimited
//    "enqueue_defaults": false}                     true: trial 0 runs the space's defaults
#pragma once
#include <memory>
#include <string>

#include "hpsearch/json.h"
#include "hpsearch/pruner.h"
#include "hpsearch/sampler.h"
#include "hpsearch/space.h"

namespace autonet::hpsearch {

struct Budget {
  int64_t trials = 20;
  double wall_s = 0;   // whole study, this run; 0 = unlimited
  double trial_s = 0;  // per trial; 0 = unlimited
  int retries = 2;     // re-queues of a trial whose worker died
};

struct StudyConfig {
  std::string name = "study";
  uint64_t seed = 0;
  Direction direction = Direction::Minimize;
  std::string objective = "objective";
  Space space;
  Json sampler = {{"name", "wr2p"}};
  Json pruner = {{"name", "none"}};
  Json workload = {{"name", "synthetic"}};
  Budget budget;
  bool enqueue_defaults = false;

  // Parses and validates everything (space, sampler and pruner are built once to check them).
  static StudyConfig from_json(const Json& config);
  Json to_json() const;
  std::unique_ptr<Sampler> make_sampler() const;
  std::unique_ptr<Pruner> make_pruner() const;
};

// Reads a study config file: TOML when its name ends in .toml (the same fields, as tables), JSON
// otherwise. Errors name the file and, for TOML, the line of the offending key.
StudyConfig load_study_config(const std::string& path);

}  // namespace autonet::hpsearch
