// The coordinator: the study file's only writer. It owns N worker processes (one per slot: a
// device entry, repeated for several trials per device), hands them trials, answers their
// per-epoch reports with the pruner's verdict, and records everything.
//
// Determinism. The runner tells the sampler finished trials strictly in trial-number order, and
// asks for trial n once the trials below its horizon (sync_horizon.h: n − lag, lag = workers − 1
// as stored in the study) are finished and told — and no later ones. Trial n's suggestion
// therefore depends on the seed and those trials alone — however fast or slow each trial was,
// however many times the study was killed and resumed. The pruner compares trial n with those
// same trials only. A later run with more workers raises the lag for the trials it creates.
//
// Resume. Running a study whose file holds RUNNING trials (the previous coordinator was killed)
// puts them back to WAITING with their parameters and seed; WAITING trials run first, in order.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/device.h"

namespace autonet::hpsearch {

struct RunOptions {
  std::vector<std::string> worker_command;  // argv prefix; "--in-fd N --out-fd M" is appended
  std::vector<std::string> slots = {"cpu"};  // one worker per entry: "cpu", "cuda:0", "cuda:0", ...
  std::optional<int64_t> max_trials;         // override the study's budget
  std::optional<double> wall_s, trial_s;
  std::string version = "dev";               // recorded with every trial
  std::function<void(const std::string&)> log;  // one line per event worth printing
};

struct RunSummary {
  int64_t complete = 0, pruned = 0, failed = 0, waiting = 0;
  std::string stopped_by;  // "trial budget", "sampler exhausted", "wall-clock budget"
};

RunSummary run_study(const std::string& study_path, const RunOptions& options);

// A worker of a shared study (`autonet hpsearch worker STUDY` on any number of hosts, claims.h):
// its slots claim trials (creating new ones from the sampler when none waits), it heartbeats
// every interval_s, and re-queues the trials of workers silent for expiry_s. It returns when
// the study's budget is spent and no trial runs or waits anywhere.
struct Heartbeat {
  double interval_s = 5;
  double expiry_s = 30;
};
RunSummary work_on_study(const std::string& study, const RunOptions& options, const Heartbeat& heartbeat);

// Where workers run: `device` "cpu" (`workers` processes, 1 when 0), or "cuda" / "cuda:0,1":
// per_device workers per GPU (or as many as fit `memory_gib` each in the card's memory),
// capped at `workers` when that is given (> 0).
struct SlotRequest {
  std::string device = "cpu";
  int workers = 0;
  int per_device = 1;
  double memory_gib = 0;
};
// One entry per worker: "cpu", or "cuda:I" (repeated for several workers on card I).
std::vector<std::string> plan_slots(const SlotRequest& request);
// The same for a given list of GPUs (what plan_slots reads from the driver).
std::vector<std::string> plan_slots(const SlotRequest& request, const std::vector<CudaDeviceInfo>& gpus);

// This executable's path (/proc/self/exe), for worker commands.
std::string self_executable();

}  // namespace autonet::hpsearch
