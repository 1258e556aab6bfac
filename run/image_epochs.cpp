// Training and evaluation epochs of image-classifier tasks.
#include "run/image_epochs.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "run/common.h"

namespace autonet::run {

ImageEpochs::ImageEpochs(Engine& engine, int64_t steps_per_epoch, int64_t log_every)
    : engine_(engine), steps_per_epoch_(steps_per_epoch), log_every_(log_every) {}

Meter ImageEpochs::train(data::Loader& loader, double lr, const ImageStep& step) {
  lr_ = lr;
  train_seconds_ = 0;
  Meter meter;
  while (true) {
    const auto step_start = std::chrono::steady_clock::now();
    std::optional<data::Batch> b = loader.next();
    if (!b) break;
    const std::string where = fmt::format("at epoch {} step {}", engine_.epoch() + 1, b->index + 1);
    const StepFigures f = step(*b, where);
    meter.add(f.loss, f.correct, b->labels.numel());
    engine_.count_step();
    show_step(b->index, meter, seconds_since(step_start));
  }
  return meter;
}

EvalResult ImageEpochs::evaluate(const std::function<Variable(const Variable&)>& forward,
                                 data::Loader& loader, const std::string& set) {
  const auto start = std::chrono::steady_clock::now();
  const EvalResult r = run::evaluate(forward, loader);
  session_eval_seconds_ += seconds_since(start);
  ++session_evals_;
  check_finite(r.loss, set + " loss", fmt::format("after epoch {}", engine_.epoch() + 1));
  return r;
}

double ImageEpochs::images_per_second(const Meter& meter) const {
  return static_cast<double>(meter.count) / std::max(train_seconds_, 1e-9);
}

void ImageEpochs::show_step(int64_t batch, const Meter& meter, double step_seconds) {
  train_seconds_ += step_seconds;
  session_step_seconds_ += step_seconds;
  ++session_steps_;
  const int64_t epoch = engine_.epoch(), epochs = engine_.epochs();
  const int64_t steps_left = (epochs - epoch) * steps_per_epoch_ - (batch + 1);
  const int64_t evals_left = epochs - epoch;
  const double eval_pace = session_evals_ ? session_eval_seconds_ / session_evals_ : 0.0;
  const double eta = session_step_seconds_ / static_cast<double>(session_steps_) *
                         static_cast<double>(steps_left) +
                     eval_pace * static_cast<double>(evals_left);
  engine_.progress().update(progress_text(epoch + 1, epochs, batch + 1, steps_per_epoch_,
                                          meter.loss(), meter.accuracy(),
                                          images_per_second(meter), eta));
  const int64_t global_step = engine_.global_step();
  if (log_every_ > 0 && global_step % log_every_ == 0)
    engine_.folder().append_log({{"kind", "step"},
                                 {"epoch", epoch},
                                 {"batch", batch + 1},
                                 {"steps_per_epoch", steps_per_epoch_},
                                 {"step", global_step},
                                 {"loss", meter.loss()},
                                 {"acc", meter.accuracy()},
                                 {"lr", lr_},
                                 {"images_per_s", rounded(images_per_second(meter), 1)}});
}

}  // namespace autonet::run
