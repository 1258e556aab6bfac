// The folder one search or training run lives in (DESIGN.md §6):
//
//   config.json              the resolved configuration (every field, defaults included)
//   log.jsonl                one JSON object per line: step summaries and epoch records
//   checkpoint.safetensors   the last completed epoch (tensors, state and checksums in one file,
//                            autograd/checkpoint.h), replaced atomically after every epoch
//   run.lock                 flock()ed by the process running in the folder; holds its pid
//   genotype.txt/.json, normal.dot/.svg, reduce.dot/.svg, report.html
//
// Shared by the search and the training trainers.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/safetensors.h"
#include "runtime/error.h"

namespace autonet::run {

class RunLock;

// While a RunFolder (or a copy of it) lives, its process holds the folder's lock: a second
// process that creates or opens the folder is refused with the holder's pid. The lock belongs to
// the file run.lock (flock), so another spelling of the path reaches the same lock.
class RunFolder {
 public:
  // A new run: creates `dir` and writes config.json. Refuses a folder that already holds a run
  // (config.json or a checkpoint), saying whether --resume can continue it.
  static RunFolder create(const std::filesystem::path& dir, const nlohmann::json& config);
  // An existing run (for --resume): reads config.json; clear error when there is none.
  static RunFolder open(const std::filesystem::path& dir);

  // The command that made the run: "search", "train", "rnn-search" or "rnn-train" (config.json's
  // run.kind; folders written before it was recorded are told apart by their keys).
  std::string kind() const;
  // Refuses a folder of another kind, naming the command that continues it.
  void expect_kind(const std::vector<std::string>& kinds) const;

  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }

  std::filesystem::path checkpoint_path() const { return dir_ / "checkpoint.safetensors"; }
  bool has_checkpoint() const;
  // Throws unless the folder holds a checkpoint; the message says why, as far as the folder's
  // files tell, and how to start the run again.
  void check_resumable() const;
  // Runs a session of the run: an error that ends it with no checkpoint in the folder gains how
  // to start the run again, since --resume cannot continue it.
  template <class Session>
  auto with_restart_hint(Session&& session) const {
    try {
      return session();
    } catch (const Error& e) {
      if (has_checkpoint()) throw;
      throw Error(std::string(e.what()) + "; " + dir_.string() +
                  " holds no checkpoint, so --resume cannot continue it: " + how_to_start_again());
    }
  }

  // log.jsonl: one record per line, flushed at once.
  void append_log(const nlohmann::json& record) const;
  uint64_t log_bytes() const;  // current size (0 when absent)
  // Drops what was logged after a checkpoint (a resumed run repeats those steps).
  void truncate_log(uint64_t bytes) const;
  std::vector<nlohmann::json> read_log() const;

  // The run's checkpoint: `state` gains "kind" and "log_bytes" (the log size it goes with) and
  // is written with the tensors atomically; a failed write leaves the previous checkpoint.
  void save_checkpoint(const std::vector<NamedTensor>& tensors, nlohmann::json state,
                       const std::string& kind) const;
  // Loads the checkpoint into `tensors` (same names, dtypes, shapes) and returns its state, after
  // truncating log.jsonl to what was logged when it was written. Clear errors for a missing
  // checkpoint, another kind of run, or tensors that do not match this config.
  nlohmann::json load_checkpoint(const std::vector<NamedTensor>& tensors,
                                 const std::string& kind) const;

  // Writes a file of the folder atomically (tmp + rename).
  void write_file(const std::string& name, const std::string& content) const;

 private:
  RunFolder(std::filesystem::path dir, std::shared_ptr<const RunLock> lock)
      : dir_(std::move(dir)), lock_(std::move(lock)) {}
  // What the folder's files tell about a missing checkpoint.
  std::string why_no_checkpoint() const;
  std::string how_to_start_again() const;

  std::filesystem::path dir_;
  std::shared_ptr<const RunLock> lock_;
  nlohmann::json config_;
};

nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace autonet::run
