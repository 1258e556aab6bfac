#include "autograd/checkpoint.h"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "report/atomic_file.h"

namespace autonet {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "autonet.checkpoint";
constexpr const char* kVersion = "2";

std::string crc32_hex(const void* data, size_t bytes) {
  const uLong crc = crc32_z(0L, static_cast<const Bytef*>(data), bytes);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return hex;
}

std::string crc32_hex(const std::string& text) {
  return crc32_hex(text.data(), text.size());
}

// A NaN or an infinity in a float tensor: checkpoints are written from finite values only.
template <class T>
void check_finite_values(const fs::path& path, const std::string& name, const Tensor& host) {
  const T* v = host.data<T>();
  for (int64_t i = 0; i < host.numel(); ++i)
    AN_CHECK(std::isfinite(v[i])) << "checkpoint " << path << ": tensor '" << name << "' holds "
                                  << v[i] << " at element " << i
                                  << " (a checkpoint is written only from finite values): the "
                                     "file cannot be used";
}

// What a checkpoint's tensors are checked against, once its format is known.
struct Opened {
  json state;
  std::map<std::string, std::string> checksums;  // version 2: name → CRC-32 (hex)
  bool version1 = false;

  void verify(const fs::path& path, const std::string& name, const Tensor& host) const {
    if (!version1) {
      const auto it = checksums.find(name);
      AN_CHECK(it != checksums.end())
          << "checkpoint " << path << ": tensor '" << name << "' has no checksum in the header";
      const std::string actual = crc32_hex(host.raw_data(), host.nbytes());
      AN_CHECK(actual == it->second)
          << "checkpoint " << path << ": tensor '" << name << "' fails its checksum (CRC-32 "
          << it->second << " saved, its bytes now give " << actual
          << "): the file was changed or damaged after it was written";
    }
    if (host.dtype() == DType::f32) check_finite_values<float>(path, name, host);
    if (host.dtype() == DType::f64) check_finite_values<double>(path, name, host);
  }
};

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    AN_THROW() << what << " is not valid JSON: " << e.what();
  }
}

Opened open_version2(const fs::path& path, const SafetensorsMetadata& metadata) {
  for (const char* key : {"state", "state_crc32", "crc32"})
    AN_CHECK(metadata.count(key)) << "checkpoint " << path << ": the header's __metadata__ lacks \""
                                  << key << "\"";
  const std::string& state_text = metadata.at("state");
  AN_CHECK(crc32_hex(state_text) == metadata.at("state_crc32"))
      << "checkpoint " << path << ": the saved state fails its checksum (CRC-32 "
      << metadata.at("state_crc32") << " saved, " << crc32_hex(state_text)
      << " now): the file was changed or damaged after it was written";
  Opened out;
  out.state = parse_json(state_text, "the state in checkpoint " + path.string());
  const json crcs =
      parse_json(metadata.at("crc32"), "the checksums in checkpoint " + path.string());
  AN_CHECK(crcs.is_object()) << "checkpoint " << path << ": \"crc32\" is not a JSON object";
  for (const auto& [name, crc] : crcs.items()) {
    AN_CHECK(crc.is_string()) << "checkpoint " << path << ": the checksum of '" << name
                              << "' is not a string";
    out.checksums[name] = crc.get<std::string>();
  }
  return out;
}

// Version 1: the sidecar (path.json, else path.json.tmp left by a kill between the two renames)
// that carries the tensor file's id and size; returns its state, or why it does not fit.
bool read_version1_sidecar(const fs::path& path, const fs::path& sidecar, const std::string& id,
                           json* state, std::string* why) {
  std::ifstream in(sidecar);
  if (!in.is_open()) {
    *why = "absent";
    return false;
  }
  const json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat ||
      !j.contains("checkpoint_id") || !j.contains("tensors_bytes") || !j.contains("state")) {
    *why = "not a complete autonet.checkpoint sidecar";
    return false;
  }
  if (j["checkpoint_id"] != id) {
    *why = "from a different save (id " + j["checkpoint_id"].dump() + ")";
    return false;
  }
  std::error_code ec;
  const uint64_t bytes = fs::file_size(path, ec);
  if (ec || !j["tensors_bytes"].is_number_unsigned() ||
      j["tensors_bytes"].get<uint64_t>() != bytes) {
    *why = "written for a tensor file of " + j["tensors_bytes"].dump() + " bytes, not " +
           std::to_string(bytes);
    return false;
  }
  *state = j["state"];
  return true;
}

Opened open_version1(const fs::path& path, const std::string& id) {
  const fs::path sidecar = checkpoint_sidecar_path(path);
  fs::path unrenamed = sidecar;
  unrenamed += ".tmp";
  Opened out;
  out.version1 = true;
  std::string why_sidecar, why_unrenamed;
  if (read_version1_sidecar(path, sidecar, id, &out.state, &why_sidecar) ||
      read_version1_sidecar(path, unrenamed, id, &out.state, &why_unrenamed))
    return out;
  AN_THROW() << "checkpoint " << path << " (version 1, id " << id
             << "): no sidecar belongs to its tensor file: " << sidecar << " is " << why_sidecar
             << ", " << unrenamed << " is " << why_unrenamed
             << "; the sidecar was deleted or replaced, so the state of this save is lost";
}

Opened open_checkpoint(const fs::path& path) {
  AN_CHECK(fs::is_regular_file(path)) << "checkpoint " << path << " does not exist";
  const SafetensorsMetadata metadata = read_safetensors_metadata(path);
  const auto format = metadata.find("format");
  AN_CHECK(format != metadata.end() && format->second == kFormat)
      << "checkpoint " << path << " is a safetensors file but not an " << kFormat << " file";
  const auto version = metadata.find("version");
  if (version != metadata.end()) {
    AN_CHECK(version->second == kVersion)
        << "checkpoint " << path << " has version " << version->second
        << ", this build reads 1 and " << kVersion;
    return open_version2(path, metadata);
  }
  const auto id = metadata.find("checkpoint_id");
  AN_CHECK(id != metadata.end()) << "checkpoint " << path
                                 << " has neither a version nor a version-1 checkpoint_id";
  return open_version1(path, id->second);
}

}  // namespace

fs::path checkpoint_sidecar_path(const fs::path& path) {
  fs::path sidecar = path;
  sidecar += ".json";
  return sidecar;
}

void save_checkpoint(const fs::path& path, const std::vector<NamedTensor>& tensors,
                     const json& state) {
  // The checksums go into the header, which precedes the data: hash the host copies first.
  std::vector<NamedTensor> host;
  json checksums = json::object();
  for (const auto& [name, t] : tensors) {
    AN_CHECK(t.defined()) << "checkpoint " << path << ": tensor '" << name << "' is undefined";
    host.push_back({name, t.to(Device::cpu()).contiguous()});
    checksums[name] = crc32_hex(host.back().tensor.raw_data(), host.back().tensor.nbytes());
  }
  const std::string state_text = state.dump();
  report::AtomicFile file(path);
  write_safetensors(file, host,
                    {{"format", kFormat},
                     {"version", kVersion},
                     {"state", state_text},
                     {"state_crc32", crc32_hex(state_text)},
                     {"crc32", checksums.dump()}});
  file.commit();
  // A version-1 sidecar left beside the new file would only mislead.
  std::error_code ec;
  const fs::path sidecar = checkpoint_sidecar_path(path);
  fs::remove(sidecar, ec);
  fs::remove(sidecar.string() + ".tmp", ec);
}

Checkpoint read_checkpoint(const fs::path& path) {
  const Opened opened = open_checkpoint(path);
  Checkpoint out;
  out.tensors = read_safetensors(path).tensors;
  for (const auto& [name, t] : out.tensors) opened.verify(path, name, t);
  out.state = opened.state;
  return out;
}

json load_checkpoint(const fs::path& path, const std::vector<NamedTensor>& destinations) {
  const Opened opened = open_checkpoint(path);
  load_safetensors_into(path, destinations, [&](const std::string& name, const Tensor& host) {
    opened.verify(path, name, host);
  });
  return opened.state;
}

std::vector<NamedTensor> with_prefix(const std::string& prefix,
                                     const std::vector<NamedTensor>& tensors) {
  std::vector<NamedTensor> out;
  out.reserve(tensors.size());
  for (const auto& nt : tensors) out.push_back({prefix + nt.name, nt.tensor});
  return out;
}

}  // namespace autonet
