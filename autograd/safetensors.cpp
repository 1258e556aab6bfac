#include "autograd/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "report/atomic_file.h"

namespace autonet {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; this host would need byte swapping");

namespace {

// The reference implementation's limit: a larger header is a corrupt length, not a real file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

// Every check while reading names the file first.
#define AN_FILE_CHECK(cond) AN_CHECK(cond) << "safetensors file " << path << ": "

struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // [begin, end) within the data
};

struct Header {
  std::vector<Entry> entries;  // sorted by begin
  SafetensorsMetadata metadata;
  uint64_t data_start = 0;  // file offset of the data
};

bool parse_dtype(const std::string& name, DType* dtype) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    if (safetensors_dtype_name(t) == name) {
      *dtype = t;
      return true;
    }
  }
  return false;
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name,
                  const nlohmann::json& value) {
  Entry e;
  e.name = name;
  AN_FILE_CHECK(value.is_object()) << "entry '" << name << "' is not a JSON object";
  AN_FILE_CHECK(value.contains("dtype") && value["dtype"].is_string())
      << "tensor '" << name << "' has no string \"dtype\"";
  const std::string dtype = value["dtype"].get<std::string>();
  AN_FILE_CHECK(parse_dtype(dtype, &e.dtype))
      << "tensor '" << name << "' has dtype \"" << dtype
      << "\", which autonet does not support (F32, F64, I32, I64, U8)";

  AN_FILE_CHECK(value.contains("shape") && value["shape"].is_array())
      << "tensor '" << name << "' has no \"shape\" array";
  uint64_t numel = 1;
  for (const auto& d : value["shape"]) {
    AN_FILE_CHECK(d.is_number_unsigned())
        << "tensor '" << name << "' has shape entry " << d.dump()
        << ", not a non-negative integer";
    const uint64_t extent = d.get<uint64_t>();
    AN_FILE_CHECK(extent <= static_cast<uint64_t>(INT64_MAX) &&
                  !__builtin_mul_overflow(numel, extent, &numel))
        << "tensor '" << name << "' has shape " << value["shape"].dump()
        << " whose element count overflows";
    e.shape.push_back(static_cast<int64_t>(extent));
  }

  const auto& offsets = value.contains("data_offsets") ? value["data_offsets"] : nlohmann::json();
  AN_FILE_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                offsets[1].is_number_unsigned())
      << "tensor '" << name << "' needs \"data_offsets\": [begin, end] of non-negative integers";
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  AN_FILE_CHECK(e.begin <= e.end) << "tensor '" << name << "' has data_offsets [" << e.begin
                                  << ", " << e.end << "): begin after end";
  uint64_t bytes = 0;
  AN_FILE_CHECK(!__builtin_mul_overflow(numel, dtype_size(e.dtype), &bytes) &&
                e.end - e.begin == bytes)
      << "tensor '" << name << "' has data_offsets [" << e.begin << ", " << e.end << ") = "
      << e.end - e.begin << " bytes, but " << dtype << shape_str(e.shape) << " needs " << bytes;
  return e;
}

Header read_header(std::ifstream& in, const std::filesystem::path& path) {
  AN_FILE_CHECK(in.is_open()) << "cannot open it for reading";
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  AN_FILE_CHECK(!ec) << "cannot get its size: " << ec.message();
  AN_FILE_CHECK(file_size >= 8) << "truncated: " << file_size
                                << " bytes, shorter than the 8-byte header length";
  uint64_t header_bytes = 0;
  in.read(reinterpret_cast<char*>(&header_bytes), 8);
  AN_FILE_CHECK(in.gcount() == 8) << "cannot read the header length";
  AN_FILE_CHECK(header_bytes <= file_size - 8)
      << "header length " << header_bytes << " runs past the end of the file (" << file_size
      << " bytes)";
  AN_FILE_CHECK(header_bytes <= kMaxHeaderBytes)
      << "header length " << header_bytes << " is over the " << kMaxHeaderBytes << "-byte limit";

  std::string text(header_bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_bytes));
  AN_FILE_CHECK(static_cast<uint64_t>(in.gcount()) == header_bytes) << "cannot read the header";
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    AN_THROW() << "safetensors file " << path << ": header is not valid JSON: " << e.what();
  }
  AN_FILE_CHECK(json.is_object()) << "header is " << json.type_name() << ", not a JSON object";

  Header header;
  header.data_start = 8 + header_bytes;
  for (const auto& [key, value] : json.items()) {
    if (key == kMetadataKey) {
      AN_FILE_CHECK(value.is_object()) << "\"__metadata__\" is not a JSON object";
      for (const auto& [mkey, mvalue] : value.items()) {
        AN_FILE_CHECK(mvalue.is_string())
            << "\"__metadata__\" value of '" << mkey << "' is not a string";
        header.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    header.entries.push_back(parse_entry(path, key, value));
  }

  // The tensors must tile the data exactly: no overlap, no gap, nothing left over.
  std::sort(header.entries.begin(), header.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_bytes = file_size - header.data_start;
  uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : header.entries) {
    AN_FILE_CHECK(e.begin >= expected)
        << "tensor '" << e.name << "' data_offsets [" << e.begin << ", " << e.end
        << ") overlap tensor '" << previous->name << "' [" << previous->begin << ", "
        << previous->end << ")";
    AN_FILE_CHECK(e.begin == expected) << "gap of " << e.begin - expected
                                       << " bytes before tensor '" << e.name << "' (offset "
                                       << e.begin << ", expected " << expected << ")";
    AN_FILE_CHECK(e.end <= data_bytes)
        << "tensor '" << e.name << "' data_offsets [" << e.begin << ", " << e.end
        << ") are out of range: the file holds " << data_bytes
        << " data bytes (truncated file?)";
    expected = e.end;
    previous = &e;
  }
  AN_FILE_CHECK(expected == data_bytes) << data_bytes - expected
                                        << " unclaimed bytes after the last tensor";
  return header;
}

Tensor read_entry(std::ifstream& in, const std::filesystem::path& path, const Header& header,
                  const Entry& e) {
  Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());
  const uint64_t bytes = e.end - e.begin;
  if (bytes == 0) return t;
  in.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
  in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(bytes));
  AN_FILE_CHECK(in && static_cast<uint64_t>(in.gcount()) == bytes)
      << "cannot read the " << bytes << " bytes of tensor '" << e.name << "'";
  return t;
}

#undef AN_FILE_CHECK

}  // namespace

std::string safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  AN_THROW() << "unknown dtype " << static_cast<int>(dtype);
}

void write_safetensors(report::AtomicFile& file, const std::vector<NamedTensor>& tensors,
                       const SafetensorsMetadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    AN_CHECK(!name.empty() && name != kMetadataKey)
        << "safetensors file " << file.path() << ": invalid tensor name '" << name << "'";
    AN_CHECK(names.insert(name).second)
        << "safetensors file " << file.path() << ": tensor name '" << name << "' given twice";
    AN_CHECK(t.defined()) << "safetensors file " << file.path() << ": tensor '" << name
                          << "' is undefined";
    const uint64_t bytes = t.nbytes();
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t header_bytes = text.size();
  file.write(&header_bytes, 8);
  file.write(text.data(), text.size());
  for (const auto& nt : tensors) {
    if (nt.tensor.numel() == 0) continue;
    const Tensor host = nt.tensor.to(Device::cpu()).contiguous();
    file.write(host.raw_data(), host.nbytes());
  }
}

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const SafetensorsMetadata& metadata) {
  report::AtomicFile file(path);
  write_safetensors(file, tensors, metadata);
  file.commit();
}

SafetensorsContents read_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const Header header = read_header(in, path);
  SafetensorsContents out;
  out.metadata = header.metadata;
  for (const Entry& e : header.entries) out.tensors[e.name] = read_entry(in, path, header, e);
  return out;
}

SafetensorsMetadata read_safetensors_metadata(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return read_header(in, path).metadata;
}

SafetensorsMetadata load_safetensors_into(const std::filesystem::path& path,
                                          const std::vector<NamedTensor>& destinations,
                                          const TensorCheck& check) {
  std::ifstream in(path, std::ios::binary);
  const Header header = read_header(in, path);
  std::map<std::string, const Entry*> by_name;
  for (const Entry& e : header.entries) by_name[e.name] = &e;

  std::set<std::string> wanted;
  for (const auto& [name, dst] : destinations) {
    AN_CHECK(wanted.insert(name).second)
        << "loading " << path << ": destination '" << name << "' given twice";
    AN_CHECK(dst.defined()) << "loading " << path << ": destination '" << name
                            << "' is undefined";
    const auto it = by_name.find(name);
    AN_CHECK(it != by_name.end()) << "safetensors file " << path << ": missing tensor '" << name
                                  << "' (wanted " << dst.describe() << ")";
    const Entry& e = *it->second;
    AN_CHECK(e.dtype == dst.dtype())
        << "safetensors file " << path << ": tensor '" << name << "' is "
        << safetensors_dtype_name(e.dtype) << ", the destination is " << dst.describe();
    AN_CHECK(e.shape == dst.shape())
        << "safetensors file " << path << ": tensor '" << name << "' has shape "
        << shape_str(e.shape) << ", the destination is " << dst.describe();
  }
  for (const Entry& e : header.entries) {
    AN_CHECK(wanted.count(e.name))
        << "safetensors file " << path << ": extra tensor '" << e.name
        << "' that nothing loads (" << safetensors_dtype_name(e.dtype) << shape_str(e.shape)
        << ")";
  }

  // Read everything before touching any destination: a failure leaves them as they were.
  std::vector<Tensor> host;
  host.reserve(destinations.size());
  for (const auto& nt : destinations) {
    host.push_back(read_entry(in, path, header, *by_name[nt.name]));
    if (check) check(nt.name, host.back());
  }
  for (size_t i = 0; i < destinations.size(); ++i) {
    Tensor dst = destinations[i].tensor;
    if (dst.numel() > 0) dst.copy_from(host[i]);
  }
  return header.metadata;
}

}  // namespace autonet
