// The progress line.
#include "run/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

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

}  // namespace autonet::run
