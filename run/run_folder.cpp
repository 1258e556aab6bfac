// The run folder: config, JSON-lines log, atomic files, the lock.
#include "run/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "autograd/checkpoint.h"
#include "report/atomic_file.h"

namespace autonet::run {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  AN_CHECK(in.good()) << "cannot read " << path.string();
  // The last key read names the value when a number overflows (1e999), which nlohmann reports
  // without a position.
  std::string key;
  const auto track_keys = [&key](int, nlohmann::json::parse_event_t event, nlohmann::json& j) {
    if (event == nlohmann::json::parse_event_t::key) key = j.get<std::string>();
    return true;
  };
  try {
    return nlohmann::json::parse(in, track_keys);
  } catch (const nlohmann::json::out_of_range& e) {
    AN_THROW() << path.string() << ": '" << key << "' cannot be read: " << e.what();
  } catch (const nlohmann::json::exception& e) {
    AN_THROW() << path.string() << " is not valid JSON: " << e.what();
  }
}

// flock() on run.lock: held while the open file lives, released by the kernel however the process
// ends. The pid written into the file only names the holder in the refusal.
class RunLock {
 public:
  explicit RunLock(const fs::path& dir) {
    const fs::path path = dir / "run.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    AN_CHECK(fd_ >= 0) << "cannot open " << path.string() << ": " << std::strerror(errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char pid[32] = {};
      const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
      ::close(fd_);
      AN_CHECK(error == EWOULDBLOCK)
          << "cannot lock " << path.string() << ": " << std::strerror(error);
      std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
      holder.erase(std::remove(holder.begin(), holder.end(), '\n'), holder.end());
      AN_THROW() << "run folder " << dir.string() << " is in use by another autonet process (pid "
                 << (holder.empty() ? "unknown" : holder) << ", holding " << path.string()
                 << "); wait for it to end, or stop it, then try again";
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    const bool recorded = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) ==
                                                          static_cast<ssize_t>(pid.size());
    (void)recorded;  // the lock holds without it; a refused process then names no pid
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

RunFolder RunFolder::create(const fs::path& dir, const nlohmann::json& config) {
  AN_CHECK(!dir.empty()) << "the run folder path is empty";
  std::error_code ec;
  fs::create_directories(dir, ec);
  AN_CHECK(!ec && fs::is_directory(dir))
      << "cannot create the run folder " << dir.string() << ": " << ec.message();
  RunFolder run(dir, std::make_shared<const RunLock>(dir));
  AN_CHECK(!run.has_checkpoint()) << dir.string() << " already holds a run: continue it with "
                                  << "--resume " << dir.string() << ", or choose another --out";
  AN_CHECK(!fs::exists(dir / "config.json"))
      << dir.string() << " already holds a run that --resume cannot continue: it has no "
      << "checkpoint (" << run.why_no_checkpoint() << "); " << run.how_to_start_again();
  run.config_ = config;
  run.write_file("config.json", config.dump(2) + "\n");
  // A leftover log from a run that never wrote its config would mix two runs.
  fs::remove(dir / "log.jsonl", ec);
  return run;
}

RunFolder RunFolder::open(const fs::path& dir) {
  AN_CHECK(fs::is_directory(dir)) << "run folder " << dir.string() << " does not exist";
  AN_CHECK(fs::exists(dir / "config.json"))
      << dir.string() << " is not a run folder: it has no config.json";
  RunFolder run(dir, std::make_shared<const RunLock>(dir));
  run.config_ = read_json_file(dir / "config.json");
  return run;
}

std::string RunFolder::kind() const {
  const nlohmann::json info =
      config_.is_object() ? config_.value("run", nlohmann::json()) : nlohmann::json();
  if (info.is_object() && info.contains("kind") && info["kind"].is_string())
    return info["kind"].get<std::string>();
  // Image runs of builds that did not record the kind: their keys tell them apart.
  if (config_.contains("drop_path_prob")) return "train";
  if (config_.contains("arch_beta1")) return "search";
  return "unknown";
}

void RunFolder::expect_kind(const std::vector<std::string>& kinds) const {
  const std::string k = kind();
  if (std::find(kinds.begin(), kinds.end(), k) != kinds.end()) return;
  AN_CHECK(k != "unknown") << (dir_ / "config.json").string()
                           << " names no kind of run this build knows";
  AN_THROW() << dir_.string() << " holds a run of `autonet " << k << "`: continue it with `autonet "
             << k << " --resume " << dir_.string() << "`";
}

bool RunFolder::has_checkpoint() const {
  return fs::exists(checkpoint_path());
}

std::string RunFolder::why_no_checkpoint() const {
  const std::string name = checkpoint_path().filename().string();
  if (fs::exists(checkpoint_sidecar_path(checkpoint_path())))
    return name + " was deleted (its version-1 sidecar " + name + ".json is still there)";
  // The epoch record is logged just before its checkpoint is written.
  int64_t epochs = 0;
  for (const nlohmann::json& r : read_log())
    epochs += r.is_object() && r.value("kind", "") == "epoch";
  if (epochs == 0) return "the run ended before its first epoch finished";
  if (epochs == 1)
    return "the run ended while writing its first checkpoint, or " + name + " was deleted";
  return name + " was deleted or moved (log.jsonl records " + std::to_string(epochs) +
         " finished epochs)";
}

std::string RunFolder::how_to_start_again() const {
  return "to start the run again, delete " + dir_.string() +
         " and run the same command, or choose another --out";
}

void RunFolder::check_resumable() const {
  AN_CHECK(has_checkpoint()) << dir_.string()
                             << " holds no checkpoint to resume: " << why_no_checkpoint() << "; "
                             << how_to_start_again();
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
  check_resumable();
  nlohmann::json state;
  try {
    state = autonet::load_checkpoint(checkpoint_path(), tensors);
  } catch (const Error& e) {
    AN_THROW() << "cannot resume from " << checkpoint_path().string() << ": " << e.message();
  }
  AN_CHECK(state.value("kind", "") == kind)
      << checkpoint_path().string() << " is a '" << state.value("kind", "?")
      << "' checkpoint, not a " << kind << " checkpoint";
  AN_CHECK(state.contains("log_bytes") && state["log_bytes"].is_number_unsigned())
      << "the state of " << checkpoint_path().string() << " lacks log_bytes";
  truncate_log(state["log_bytes"].get<uint64_t>());
  return state;
}

void RunFolder::write_file(const std::string& name, const std::string& content) const {
  report::write_file_atomically(path(name), content);
}

}  // namespace autonet::run
