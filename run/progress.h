// The live progress line a run shows on stderr while it runs.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

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

}  // namespace autonet::run
