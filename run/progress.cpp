// The progress line and the image tasks' step bookkeeping.
#include "run/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "run/common.h"

namespace autonet::run {

ProgressLine::ProgressLine(bool enabled)
    : enabled_(enabled), tty_(isatty(fileno(stderr)) != 0), last_() {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(const std::string& text, bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (tty_) {
    if (!force && open_ && since < 0.25) return;
    const std::string pad = text.size() < last_width_ ? std::string(last_width_ - text.size(), ' ')
                                                      : std::string();
    std::fprintf(stderr, "\r%s%s", text.c_str(), pad.c_str());
    std::fflush(stderr);
    last_width_ = text.size();
    open_ = true;
  } else {
    if (!force && since < 30.0) return;
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
  }
  last_ = now;
}

void ProgressLine::finish() {
  if (enabled_ && tty_ && open_) {
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
  open_ = false;
  last_width_ = 0;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

std::string progress_text(int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss,
                          double accuracy, double images_per_second, double eta_seconds) {
  return fmt::format("epoch {}/{}  step {}/{}  loss {:.4f}  acc {:.1f}%  {:.0f} img/s  ETA {}",
                     epoch, epochs, step, steps, loss, 100.0 * accuracy, images_per_second,
                     format_duration(eta_seconds));
}

StepTracker::StepTracker(ProgressLine& line, const RunFolder& run, int64_t epochs,
                         int64_t steps_per_epoch, int64_t log_every)
    : line_(line),
      run_(run),
      epochs_(epochs),
      steps_per_epoch_(steps_per_epoch),
      log_every_(log_every) {}

void StepTracker::start_epoch(int64_t epoch, double lr) {
  epoch_ = epoch;
  lr_ = lr;
  train_seconds_ = 0;
}

double StepTracker::images_per_second(const Meter& meter) const {
  return static_cast<double>(meter.count) / std::max(train_seconds_, 1e-9);
}

void StepTracker::step(int64_t batch, int64_t global_step, const Meter& meter,
                       double step_seconds) {
  train_seconds_ += step_seconds;
  session_step_seconds_ += step_seconds;
  ++session_steps_;
  const int64_t steps_left = (epochs_ - epoch_) * steps_per_epoch_ - (batch + 1);
  const int64_t evals_left = epochs_ - epoch_;
  const double eval_pace = session_evals_ ? session_eval_seconds_ / session_evals_ : 0.0;
  const double eta = session_step_seconds_ / static_cast<double>(session_steps_) *
                         static_cast<double>(steps_left) +
                     eval_pace * static_cast<double>(evals_left);
  line_.update(progress_text(epoch_ + 1, epochs_, batch + 1, steps_per_epoch_, meter.loss(),
                             meter.accuracy(), images_per_second(meter), eta));
  if (log_every_ > 0 && global_step % log_every_ == 0)
    run_.append_log({{"kind", "step"},
                     {"epoch", epoch_},
                     {"batch", batch + 1},
                     {"steps_per_epoch", steps_per_epoch_},
                     {"step", global_step},
                     {"loss", meter.loss()},
                     {"acc", meter.accuracy()},
                     {"lr", lr_},
                     {"images_per_s", rounded(images_per_second(meter), 1)}});
}

void StepTracker::end_epoch(double eval_seconds) {
  session_eval_seconds_ += eval_seconds;
  ++session_evals_;
}

}  // namespace autonet::run
