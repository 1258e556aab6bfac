// A checkpoint is a pair of files written atomically:
//   `path`       safetensors: weights, optimizer buffers, α, ... (named tensors, in order)
//   `path.json`  the sidecar: optimizer scalars, RNG offsets, step/epoch counters, anything the
//                trainer adds under "state"
// Both carry the same random checkpoint id (and the sidecar the tensor file's size), so a loader
// never mixes the files of two different saves.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/safetensors.h"

namespace autonet {

std::filesystem::path checkpoint_sidecar_path(const std::filesystem::path& path);

// Writes both files to *.tmp, fsyncs both, then renames them into place. On any error before the
// renames, the previous checkpoint at `path` is untouched.
void save_checkpoint(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                     const nlohmann::json& state);

struct Checkpoint {
  std::map<std::string, Tensor> tensors;  // host tensors
  nlohmann::json state;
};
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Loads the tensors into existing ones (exact names, dtypes and shapes; see load_safetensors_into)
// after checking that the two files belong together; returns the sidecar's state.
nlohmann::json load_checkpoint(const std::filesystem::path& path,
                               const std::vector<NamedTensor>& destinations);

// `prefix` + name for each tensor: e.g. "optimizer." before an optimizer's state tensors.
std::vector<NamedTensor> with_prefix(const std::string& prefix,
                                     const std::vector<NamedTensor>& tensors);

}  // namespace autonet
