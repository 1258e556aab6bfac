// What a run shows while it runs: the live progress line on stderr and the step bookkeeping of
// image classifiers (images/s, an ETA, step summaries in log.jsonl).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "run/evaluation.h"
#include "run/run_folder.h"

namespace autonet::run {

// A live status line on stderr: rewritten in place with \r on a terminal at most 4 times a
// second; elsewhere (a log file) a full line every 30 s.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  ~ProgressLine();
  void update(const std::string& text, bool force = false);
  void finish();  // ends the line (keeps the last text visible)

 private:
  bool enabled_, tty_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_;
  size_t last_width_ = 0;
};

// "epoch 3/10  step 120/391  loss 1.2345  acc 45.6%  812 img/s  ETA 12m34s"
std::string progress_text(int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss,
                          double accuracy, double images_per_second, double eta_seconds);
std::string format_duration(double seconds);

// Step bookkeeping of the image tasks: the progress line (with images/s and an ETA from this
// session's pace) and the step summaries in log.jsonl every `log_every` steps.
class StepTracker {
 public:
  StepTracker(ProgressLine& line, const RunFolder& run, int64_t epochs, int64_t steps_per_epoch,
              int64_t log_every);
  void start_epoch(int64_t epoch, double lr);
  // After a step: batch index within the epoch (0-based), steps completed in the whole run.
  void step(int64_t batch, int64_t global_step, const Meter& meter, double step_seconds);
  void end_epoch(double eval_seconds);
  double images_per_second(const Meter& meter) const;  // this epoch's steps only

 private:
  ProgressLine& line_;
  const RunFolder& run_;
  int64_t epochs_, steps_per_epoch_, log_every_;
  int64_t epoch_ = 0;
  double lr_ = 0, train_seconds_ = 0;
  double session_step_seconds_ = 0, session_eval_seconds_ = 0;
  int64_t session_steps_ = 0, session_evals_ = 0;
};

}  // namespace autonet::run
