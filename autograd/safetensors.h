// The safetensors file format (https://huggingface.co/docs/safetensors), exactly:
//
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header, space-padded][data]
//   header = {"__metadata__": {str: str}?, name: {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end)}, ...}, offsets relative to the start of the data.
//
// Tensors are stored contiguous, little-endian, back to back in the order given, covering the
// data exactly. Readers check everything and throw autonet::Error naming the file and the fault.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace autonet {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};
using SafetensorsMetadata = std::map<std::string, std::string>;

namespace report {
class AtomicFile;
}

// "F32", "F64", "I32", "I64", "U8".
std::string safetensors_dtype_name(DType dtype);

// Writes the tensors (any device: copied to the host) in order. Names must be unique, non-empty
// and not "__metadata__". save_safetensors writes atomically (path.tmp, fsync, rename).
void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const SafetensorsMetadata& metadata = {});
void write_safetensors(report::AtomicFile& file, const std::vector<NamedTensor>& tensors,
                       const SafetensorsMetadata& metadata = {});

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;  // host tensors
  SafetensorsMetadata metadata;
};
SafetensorsContents read_safetensors(const std::filesystem::path& path);
// Checks the whole header (not the data bytes) and returns its metadata.
SafetensorsMetadata read_safetensors_metadata(const std::filesystem::path& path);

// A check of one tensor as read from a file (host copy); throws to refuse the file.
using TensorCheck = std::function<void(const std::string& name, const Tensor& host)>;

// Loads into existing tensors (any device, contiguous or not): the file must hold exactly these
// names, each with the destination's dtype and shape. Nothing is written unless the whole file
// checks out, reads completely and passes `check` (when given) tensor by tensor. Returns the
// file's metadata.
SafetensorsMetadata load_safetensors_into(const std::filesystem::path& path,
                                          const std::vector<NamedTensor>& destinations,
                                          const TensorCheck& check = {});

}  // namespace autonet
