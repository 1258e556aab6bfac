// Checkpoints in version 1's two-file layout (autograd/checkpoint.h): what run folders of earlier
// builds hold, written here so tests can show they still load.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/checkpoint.h"
#include "autograd/safetensors.h"

namespace autonet::test {

// The tensor file at `path` and its sidecar at `sidecar` (path.json where the save completed,
// path.json.tmp where a kill came between its two renames).
inline void write_version1_checkpoint(const std::filesystem::path& path,
                                      const std::vector<NamedTensor>& tensors,
                                      const nlohmann::json& state, const std::string& id,
                                      std::filesystem::path sidecar = {}) {
  if (sidecar.empty()) sidecar = checkpoint_sidecar_path(path);
  save_safetensors(path, tensors, {{"format", "autonet.checkpoint"}, {"checkpoint_id", id}});
  const nlohmann::json j = {{"format", "autonet.checkpoint"},
                            {"version", 1},
                            {"checkpoint_id", id},
                            {"tensors_file", path.filename().string()},
                            {"tensors_bytes", std::filesystem::file_size(path)},
                            {"state", state}};
  std::ofstream(sidecar) << j.dump(2) << "\n";
}

// Rewrites the (version 2) checkpoint at `path` in version 1's layout, same tensors and state.
inline void rewrite_as_version1(const std::filesystem::path& path, const std::string& id,
                                std::filesystem::path sidecar = {}) {
  const Checkpoint c = read_checkpoint(path);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, t] : c.tensors) tensors.push_back({name, t});
  write_version1_checkpoint(path, tensors, c.state, id, std::move(sidecar));
}

}  // namespace autonet::test
