// The run folder (config.json, log.jsonl, checkpoints, files) belongs to this layer. Its code
// still sits in darts/run_folder.* while the checkpoint-integrity work changes it there; it is
// compiled into autonet_run (run/CMakeLists.txt) and moves here once that work has landed.
#pragma once
#include "darts/run_folder.h"

namespace autonet::run {

using darts::RunFolder;

}  // namespace autonet::run
