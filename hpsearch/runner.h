// The coordinator: the study file's only writer. It owns N worker processes (one per slot: a
// device entry, repeated for several trials per device), hands them trials, answers their
// per-epoch reports with the pruner's verdict, and records everything.
//
// Determinism. The runner tells the sampler finished trials strictly in trial-number order, and
// asks for trial n once trials 0 … n−1−lag are finished and told — and no later ones, where lag (stored in the study at its
// first run) is the worker count minus one. Trial n's suggestion therefore depends on the seed
// and on trials 0 … n−1−lag alone — however fast or slow each trial was, however many times the
// study was killed and resumed. The pruner compares trial n with those same trials only.
//
// Resume. Running a study whose file holds RUNNING trials (the previous coordinator was killed)
// puts them back to WAITING with their parameters and seed; WAITING trials run first, in order.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

// Worker slots for `workers` processes: "cpu" entries, or one per GPU (× per_device, or as many
// as fit `memory_gib` each in the card's memory) when `device` is "cuda" or "cuda:0,1".
std::vector<std::string> plan_slots(const std::string& device, int workers, int per_device,
                                    double memory_gib);

// This executable's path (/proc/self/exe), for worker commands.
std::string self_executable();

}  // namespace autonet::hpsearch
