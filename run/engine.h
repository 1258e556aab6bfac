// The run engine: one loop for every search and training method (DESIGN.md §1, "run layer").
//
// A method is a Task: it owns its network, data and optimizers and knows how to train and
// evaluate one epoch. The Engine owns everything around that, the same for every method:
//   - the epoch loop, and stopping after RunOptions::stop_after_epochs epochs of this session;
//   - the epoch record in log.jsonl ({"kind": "epoch", "epoch", "step", "seconds"} + the task's
//     fields), the progress line and its "epoch N/M done" summary;
//   - checkpoint.safetensors after every epoch (the task's tensors and state + "epoch",
//     "global_step", "kind", "log_bytes"), refused when the weights are not finite;
//   - a named "best" checkpoint (best.safetensors) whenever the task asks for one;
//   - exact resume from the checkpoint, and the rollback to the best checkpoint when an epoch
//     throws Diverged (at most 10 times a session);
//   - the hooks after every checkpoint (genotype files, report.html) and at the end.
// docs/architecture.md "How to add a search method" walks through writing a task.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/safetensors.h"
#include "run/progress.h"
#include "run/run_folder.h"

namespace autonet::run {

// How a run is carried out; none of this changes its results.
struct RunOptions {
  bool progress = true;            // the live progress line on stderr
  int64_t stop_after_epochs = -1;  // stop (as if interrupted) after this many epochs this session
  std::string device;              // resume only: run on this device instead of the stored one
  // Fault injection for tests of the NaN rollback: called before each training step with
  // (epoch, step within the epoch); true poisons one weight with NaN for that step, as a
  // diverging step would. Empty in real runs.
  std::function<bool(int64_t, int64_t)> poison_weights;

  // No progress line (tests, study trials), optionally stopping after some epochs.
  static RunOptions quiet(int64_t stop_after_epochs = -1) {
    RunOptions o;
    o.progress = false;
    o.stop_after_epochs = stop_after_epochs;
    return o;
  }
};

// Thrown by a task's epoch when training diverged in a way the run recovers from: the engine
// reloads the best checkpoint and runs the epoch again (train.py of the recurrent DARTS).
struct Diverged {
  std::string message;
};

// The best value of a metric over the epochs and the epoch it came from.
struct Best {
  double value;
  int64_t epoch = -1;
  bool higher_is_better;
  // Takes `v` of `at_epoch` when it beats the best so far; true then.
  bool update(double v, int64_t at_epoch) {
    if (higher_is_better ? !(v > value) : !(v < value)) return false;
    value = v;
    epoch = at_epoch;
    return true;
  }
};

// What a task's epoch gives the engine.
struct EpochResult {
  nlohmann::json record;  // the epoch record's fields beyond kind, epoch, step and seconds
  std::string summary;    // for "epoch 3/10 done: <summary>, 12 s"
};

class Engine;

// A search or training method. The hooks run in this order:
//   start → (run_epoch → checkpoint → after_checkpoint)* → finish.
class Task {
 public:
  virtual ~Task() = default;
  // The checkpoint's kind ("search", "train", ...): a checkpoint of another kind is refused.
  virtual std::string kind() const = 0;
  virtual int64_t epochs() const = 0;

  // A checkpoint: the tensors (weights, α, optimizer buffers) with names that never change, so
  // old run folders resume, and the sidecar's state (optimizer scalars, RNG offsets, streams).
  virtual std::vector<NamedTensor> state_tensors() const = 0;
  virtual nlohmann::json state() const = 0;
  // The flat weight buffers that must be finite before any checkpoint is written.
  virtual std::vector<Tensor> flat_weights() const = 0;
  // Before a checkpoint's tensors are read: checks that need only its state (the vocabulary),
  // and buffers whose shape depends on it (an optimizer of the stored kind).
  virtual void before_load(const std::filesystem::path& checkpoint) { (void)checkpoint; }
  // After the tensors were read: the state back. A rollback restores only what a retried
  // epoch must start from (weights, optimizer, epoch), not the random streams.
  enum class Restore { resume, rollback };
  virtual void restore(const nlohmann::json& state, Restore what) = 0;

  virtual void start(Engine& engine) { (void)engine; }
  // Trains and evaluates epoch engine.epoch(); counts each step with engine.count_step().
  virtual EpochResult run_epoch(Engine& engine) = 0;
  virtual void after_checkpoint(Engine& engine) { (void)engine; }
  // After the loop; `finished` when every epoch is done (not stopped early).
  virtual void finish(Engine& engine, bool finished) {
    (void)engine;
    (void)finished;
  }
};

class Engine {
 public:
  Engine(Task& task, RunFolder folder, const RunOptions& options);

  // Continues from the folder's last checkpoint (before run()).
  void resume();
  // Runs epochs until the task's last one or the session's stop; true when the run is finished.
  // An error that leaves the folder without a checkpoint says how to start the run again.
  bool run();

  // For the task's hooks.
  int64_t epochs() const { return task_.epochs(); }
  int64_t epoch() const { return epoch_; }  // epochs completed = the index of the running one
  int64_t global_step() const { return global_step_; }  // steps completed in the whole run
  void count_step() { ++global_step_; }
  const RunFolder& folder() const { return folder_; }
  ProgressLine& progress() { return progress_; }
  const RunOptions& options() const { return options_; }
  // Writes best.safetensors now, as the checkpoint of the running epoch once it ends.
  void save_best();
  // Loads best.safetensors into the task (Restore::rollback) and returns its state; the engine's
  // counters stay as they are.
  nlohmann::json load_best();
  std::filesystem::path best_path() const { return folder_.path("best.safetensors"); }

 private:
  bool run_epochs();
  nlohmann::json checkpoint_state(int64_t epochs_done) const;
  void roll_back(const Diverged& diverged);

  Task& task_;
  RunFolder folder_;
  RunOptions options_;
  ProgressLine progress_;
  int64_t epoch_ = 0, global_step_ = 0, rollbacks_ = 0;
};

// A new run's folder: `config` (every flag) with what the task derived from the data under
// "run", written to config.json.
RunFolder create_run_folder(const std::filesystem::path& dir, nlohmann::json config,
                            const nlohmann::json& run_info);
// A stored config without its "run" part (the flags as given), and the device a resumed run
// uses: RunOptions::device when set, else the stored one (resolved again: a run may continue
// on another machine).
nlohmann::json stored_flags(const RunFolder& folder);
Device resume_device(const RunOptions& options, const std::string& stored);

}  // namespace autonet::run
