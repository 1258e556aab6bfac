// The run engine: the epoch loop, checkpoints, resume and rollback around a task.
#include "run/engine.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>

#include "autograd/checkpoint.h"
#include "run/common.h"
#include "runtime/error.h"

namespace autonet::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int64_t kMaxRollbacks = 10;  // a session that keeps diverging stops (train.py retries forever)
}

Engine::Engine(Task& task, RunFolder folder, const RunOptions& options)
    : task_(task), folder_(std::move(folder)), options_(options), progress_(options.progress) {}

json Engine::checkpoint_state(int64_t epochs_done) const {
  const std::string where = fmt::format("after epoch {}", epochs_done);
  for (const Tensor& w : task_.flat_weights()) check_finite_weights(w, where);
  json state = task_.state();
  state["epoch"] = epochs_done;
  state["global_step"] = global_step_;
  return state;
}

void Engine::save_best() {
  json state = checkpoint_state(epoch_ + 1);
  // The sidecar keys RunFolder::save_checkpoint adds to checkpoint.safetensors.
  state["kind"] = task_.kind();
  state["log_bytes"] = folder_.log_bytes();
  save_checkpoint(best_path(), task_.state_tensors(), state);
}

json Engine::load_best() {
  task_.before_load(best_path());
  const json state = load_checkpoint(best_path(), task_.state_tensors());
  task_.restore(state, Task::Restore::rollback);
  return state;
}

void Engine::resume() {
  folder_.check_resumable();  // before the task reads the checkpoint's state
  task_.before_load(folder_.checkpoint_path());
  const json state = folder_.load_checkpoint(task_.state_tensors(), task_.kind());
  epoch_ = state.at("epoch").get<int64_t>();
  global_step_ = state.at("global_step").get<int64_t>();
  task_.restore(state, Task::Restore::resume);
}

void Engine::roll_back(const Diverged& diverged) {
  AN_CHECK(fs::exists(best_path()))
      << diverged.message << " before any checkpoint was saved; stopping (nothing to roll back to)";
  AN_CHECK(++rollbacks_ <= kMaxRollbacks)
      << diverged.message << "; stopping after " << kMaxRollbacks << " rollbacks in this session "
      << "(the checkpoints are kept as they were)";
  progress_.finish();
  fmt::print(stderr, "autonet: {}; rolling back to {}\n", diverged.message, best_path().string());
  // The log keeps its records: the epochs since the best checkpoint really ran.
  epoch_ = load_best().at("epoch").get<int64_t>();
  folder_.append_log({{"kind", "rollback"}, {"epoch", epoch_}, {"reason", diverged.message}});
}

bool Engine::run() {
  return folder_.with_restart_hint([this] { return run_epochs(); });
}

bool Engine::run_epochs() {
  task_.start(*this);
  int64_t session_epochs = 0;
  while (epoch_ < task_.epochs()) {
    if (options_.stop_after_epochs >= 0 && session_epochs >= options_.stop_after_epochs) break;
    const auto epoch_start = std::chrono::steady_clock::now();
    EpochResult result;
    try {
      result = task_.run_epoch(*this);
    } catch (const Diverged& diverged) {
      roll_back(diverged);
      continue;
    }
    json record = std::move(result.record);
    record["kind"] = "epoch";
    record["epoch"] = epoch_;
    record["step"] = global_step_;
    record["seconds"] = rounded(seconds_since(epoch_start), 2);
    folder_.append_log(record);
    ++epoch_;
    ++session_epochs;
    folder_.save_checkpoint(task_.state_tensors(), checkpoint_state(epoch_), task_.kind());
    task_.after_checkpoint(*this);
    progress_.update(fmt::format("epoch {}/{} done: {}, {:.0f} s", epoch_, task_.epochs(),
                                 result.summary, seconds_since(epoch_start)),
                     true);
    progress_.finish();
  }
  const bool finished = epoch_ >= task_.epochs();
  task_.finish(*this, finished);
  return finished;
}

RunFolder create_run_folder(const fs::path& dir, json config, const json& run_info) {
  config["run"] = run_info;
  return RunFolder::create(dir, config);
}

json stored_flags(const RunFolder& folder) {
  json stored = folder.config();
  stored.erase("run");
  return stored;
}

Device resume_device(const RunOptions& options, const std::string& stored) {
  return resolve_device(options.device.empty() ? stored : options.device);
}

}  // namespace autonet::run
