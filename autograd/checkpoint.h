// A checkpoint is one safetensors file, committed by one atomic rename (path.tmp, fsync, rename):
//   tensors        weights, optimizer buffers, α, ... (named, in order)
//   __metadata__   "format": "autonet.checkpoint", "version": "2",
//                  "state": the trainer's JSON (optimizer scalars, RNG offsets, step/epoch
//                  counters, ...), "state_crc32": CRC-32 of that text,
//                  "crc32": a JSON object {tensor name: CRC-32 of its bytes}
// The tensors and the state land together, so a kill at any moment leaves either the previous
// checkpoint or the new one (and perhaps an unfinished path.tmp, which loading ignores). Loading
// verifies every checksum and refuses a NaN or an infinity in any float tensor, naming the tensor.
//
// Version 1 (the tensors plus a `path.json` sidecar, tied by a random id) still loads. Its save
// renamed the tensor file first: a kill before the sidecar's rename left the matching sidecar in
// `path.json.tmp`, which loading then uses. Saving version 2 removes the old sidecar files.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/safetensors.h"

namespace autonet {

// Version 1's sidecar: `path` + ".json".
std::filesystem::path checkpoint_sidecar_path(const std::filesystem::path& path);

// Writes the checkpoint atomically. On any error the previous checkpoint at `path` is untouched.
void save_checkpoint(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                     const nlohmann::json& state);

struct Checkpoint {
  std::map<std::string, Tensor> tensors;  // host tensors
  nlohmann::json state;
};
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Loads the tensors into existing ones (exact names, dtypes and shapes; see load_safetensors_into)
// after every check above; returns the state. Nothing is written unless all checks pass.
nlohmann::json load_checkpoint(const std::filesystem::path& path,
                               const std::vector<NamedTensor>& destinations);

// `prefix` + name for each tensor: e.g. "optimizer." before an optimizer's state tensors.
std::vector<NamedTensor> with_prefix(const std::string& prefix,
                                     const std::vector<NamedTensor>& tensors);

}  // namespace autonet
