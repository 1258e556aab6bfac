#include "autograd/checkpoint.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "report/atomic_file.h"

namespace autonet {

namespace {

constexpr const char* kFormat = "autonet.checkpoint";
constexpr int kVersion = 1;

std::string random_checkpoint_id() {
  std::random_device device;
  std::ostringstream out;
  for (int i = 0; i < 4; ++i) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(device()));
    out << hex;
  }
  return out.str();
}

nlohmann::json read_sidecar(const std::filesystem::path& path) {
  const std::filesystem::path sidecar = checkpoint_sidecar_path(path);
  std::ifstream in(sidecar);
  AN_CHECK(in.is_open()) << "checkpoint " << path << ": cannot open its sidecar " << sidecar;
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    AN_THROW() << "checkpoint sidecar " << sidecar << " is not valid JSON: " << e.what();
  }
  AN_CHECK(json.is_object() && json.value("format", "") == kFormat)
      << "checkpoint sidecar " << sidecar << " is not an " << kFormat << " file";
  AN_CHECK(json.value("version", -1) == kVersion)
      << "checkpoint sidecar " << sidecar << " has version " << json.value("version", -1)
      << ", this build reads version " << kVersion;
  AN_CHECK(json.contains("checkpoint_id") && json["checkpoint_id"].is_string() &&
           json.contains("tensors_bytes") && json["tensors_bytes"].is_number_unsigned() &&
           json.contains("state"))
      << "checkpoint sidecar " << sidecar
      << " lacks \"checkpoint_id\", \"tensors_bytes\" or \"state\"";
  return json;
}

// The sidecar and the tensor file must come from the same save.
void check_pair(const std::filesystem::path& path, const nlohmann::json& sidecar) {
  const std::string id = sidecar["checkpoint_id"].get<std::string>();
  const SafetensorsMetadata metadata = read_safetensors_metadata(path);
  const auto it = metadata.find("checkpoint_id");
  AN_CHECK(it != metadata.end())
      << "checkpoint " << path << ": the tensor file has no checkpoint_id in its metadata";
  AN_CHECK(it->second == id) << "checkpoint " << path << ": the tensor file (id " << it->second
                             << ") and the sidecar " << checkpoint_sidecar_path(path) << " (id "
                             << id << ") come from different saves";
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(path, ec);
  AN_CHECK(!ec && bytes == sidecar["tensors_bytes"].get<uint64_t>())
      << "checkpoint " << path << ": the tensor file has " << bytes << " bytes, the sidecar says "
      << sidecar["tensors_bytes"].get<uint64_t>();
}

}  // namespace

std::filesystem::path checkpoint_sidecar_path(const std::filesystem::path& path) {
  std::filesystem::path sidecar = path;
  sidecar += ".json";
  return sidecar;
}

void save_checkpoint(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                     const nlohmann::json& state) {
  const std::string id = random_checkpoint_id();
  report::AtomicFile tensor_file(path);
  write_safetensors(tensor_file, tensors, {{"format", kFormat}, {"checkpoint_id", id}});

  const nlohmann::json sidecar = {{"format", kFormat},
                                  {"version", kVersion},
                                  {"checkpoint_id", id},
                                  {"tensors_file", path.filename().string()},
                                  {"tensors_bytes", tensor_file.bytes_written()},
                                  {"state", state}};
  const std::string text = sidecar.dump(2) + "\n";
  report::AtomicFile sidecar_file(checkpoint_sidecar_path(path));
  sidecar_file.write(text.data(), text.size());

  // Both complete on disk before either replaces the previous checkpoint.
  tensor_file.sync();
  sidecar_file.sync();
  tensor_file.commit();
  sidecar_file.commit();
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  const nlohmann::json sidecar = read_sidecar(path);
  check_pair(path, sidecar);
  Checkpoint out;
  out.tensors = read_safetensors(path).tensors;
  out.state = sidecar["state"];
  return out;
}

nlohmann::json load_checkpoint(const std::filesystem::path& path,
                               const std::vector<NamedTensor>& destinations) {
  const nlohmann::json sidecar = read_sidecar(path);
  check_pair(path, sidecar);
  load_safetensors_into(path, destinations);
  return sidecar["state"];
}

std::vector<NamedTensor> with_prefix(const std::string& prefix,
                                     const std::vector<NamedTensor>& tensors) {
  std::vector<NamedTensor> out;
  out.reserve(tensors.size());
  for (const auto& nt : tensors) out.push_back({prefix + nt.name, nt.tensor});
  return out;
}

}  // namespace autonet
