// The run folder: config, JSON-lines log, atomic files.
#include "darts/run_folder.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "report/atomic_file.h"
#include "autograd/checkpoint.h"

namespace autonet::darts {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  AN_CHECK(in.good()) << "cannot read " << path.string();
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    AN_THROW() << path.string() << " is not valid JSON: " << e.what();
  }
}

RunFolder RunFolder::create(const fs::path& dir, const nlohmann::json& config) {
  AN_CHECK(!dir.empty()) << "the run folder path is empty";
  AN_CHECK(!fs::exists(dir / "config.json") && !fs::exists(dir / "checkpoint.safetensors"))
      << dir.string() << " already holds a run: continue it with --resume " << dir.string()
      << " or choose another --out";
  std::error_code ec;
  fs::create_directories(dir, ec);
  AN_CHECK(!ec && fs::is_directory(dir))
      << "cannot create the run folder " << dir.string() << ": " << ec.message();
  RunFolder run(dir, config);
  run.write_file("config.json", config.dump(2) + "\n");
  // A leftover log from a run that never wrote its config would mix two runs.
  fs::remove(dir / "log.jsonl", ec);
  return run;
}

RunFolder RunFolder::open(const fs::path& dir) {
  AN_CHECK(fs::is_directory(dir)) << "run folder " << dir.string() << " does not exist";
  AN_CHECK(fs::exists(dir / "config.json"))
      << dir.string() << " is not a run folder: it has no config.json";
  return RunFolder(dir, read_json_file(dir / "config.json"));
}

bool RunFolder::has_checkpoint() const {
  return fs::exists(checkpoint_path()) && fs::exists(checkpoint_path().string() + ".json");
}

void RunFolder::append_log(const nlohmann::json& record) const {
  const std::string line = record.dump() + "\n";
  FILE* f = std::fopen(path("log.jsonl").c_str(), "ab");
  AN_CHECK(f != nullptr) << "cannot open " << path("log.jsonl").string() << " for appending";
  const size_t written = std::fwrite(line.data(), 1, line.size(), f);
  const int closed = std::fclose(f);
  AN_CHECK(written == line.size() && closed == 0)
      << "cannot append to " << path("log.jsonl").string() << " (disk full?)";
}

uint64_t RunFolder::log_bytes() const {
  std::error_code ec;
  const auto size = fs::file_size(path("log.jsonl"), ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

void RunFolder::truncate_log(uint64_t bytes) const {
  const uint64_t size = log_bytes();
  AN_CHECK(size >= bytes) << path("log.jsonl").string() << " holds " << size
                          << " bytes, fewer than the " << bytes
                          << " the checkpoint was written after: the log was modified";
  if (size != bytes) fs::resize_file(path("log.jsonl"), bytes);
}

std::vector<nlohmann::json> RunFolder::read_log() const {
  std::vector<nlohmann::json> records;
  std::ifstream in(path("log.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A line cut short by a crash is skipped, not fatal: the log is a record, not state.
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) records.push_back(std::move(j));
  }
  return records;
}

void RunFolder::save_checkpoint(const std::vector<NamedTensor>& tensors, nlohmann::json state,
                                const std::string& kind) const {
  state["kind"] = kind;
  state["log_bytes"] = log_bytes();
  autonet::save_checkpoint(checkpoint_path(), tensors, state);
}

nlohmann::json RunFolder::load_checkpoint(const std::vector<NamedTensor>& tensors,
                                          const std::string& kind) const {
  AN_CHECK(has_checkpoint())
      << dir_.string() << " holds no checkpoint (checkpoint.safetensors and its .json sidecar): "
      << "the run stopped before its first epoch ended; start it again";
  nlohmann::json state;
  try {
    state = autonet::load_checkpoint(checkpoint_path(), tensors);
  } catch (const Error& e) {
    AN_THROW() << "cannot resume from " << checkpoint_path().string()
               << " (it does not fit the network of " << (dir_ / "config.json").string()
               << "): " << e.what();
  }
  AN_CHECK(state.value("kind", "") == kind)
      << checkpoint_path().string() << " is a '" << state.value("kind", "?")
      << "' checkpoint, not a " << kind << " checkpoint";
  AN_CHECK(state.contains("log_bytes") && state["log_bytes"].is_number_unsigned())
      << checkpoint_path().string() << ".json lacks log_bytes";
  truncate_log(state["log_bytes"].get<uint64_t>());
  return state;
}

void RunFolder::write_file(const std::string& name, const std::string& content) const {
  report::write_file_atomically(path(name), content);
}

}  // namespace autonet::darts
