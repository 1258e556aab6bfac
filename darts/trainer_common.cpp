// Shared trainer pieces: progress line, meters, evaluation, finiteness checks.
#include "darts/trainer_common.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "autograd/functions.h"
#include "darts/run_folder.h"
#include "kernels/reduce.h"
#include "runtime/device.h"
#include "runtime/error.h"

namespace autonet::darts {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<NamedTensor> named(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors) out.push_back({name, t});
  return out;
}

void append(std::vector<NamedTensor>& to, const std::vector<NamedTensor>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

Device resolve_device(const std::string& name) {
  if (name == "auto" || name.empty()) return cuda_available() ? Device::cuda(0) : Device::cpu();
  const Device d = parse_device(name);
  if (d.is_cuda()) {
    std::string why;
    AN_CHECK(cuda_available(&why)) << "--device " << name << " asked for a GPU, but none is usable: "
                                   << why << " (use --device cpu)";
    AN_CHECK(d.index < cuda_device_count())
        << "--device " << name << ": only " << cuda_device_count() << " GPU(s) present";
  }
  return d;
}

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

int64_t count_top_k(const Tensor& logits, const Tensor& labels, int64_t top) {
  AN_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0))
      << "count_top_k expects logits [N, K] and labels [N], got " << logits.describe() << " and "
      << labels.describe();
  const std::vector<double> z = logits.to(Device::cpu()).to(DType::f64).to_vector<double>();
  const std::vector<int64_t> y = labels.to(Device::cpu()).to_vector<int64_t>();
  const int64_t n = logits.size(0), k = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    // The label's rank: classes scoring higher, or equal and earlier (the first maximum wins
    // ties, as torch's argmax).
    const double* row = &z[i * k];
    int64_t ahead = 0;
    for (int64_t j = 0; j < k; ++j)
      ahead += row[j] > row[y[i]] || (row[j] == row[y[i]] && j < y[i]);
    correct += ahead < top;
  }
  return correct;
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  return count_top_k(logits, labels, 1);
}

void check_sgd_flags(int64_t epochs, int64_t batch_size, double learning_rate,
                     double learning_rate_min, double momentum, double weight_decay,
                     double grad_clip) {
  AN_CHECK(epochs >= 1) << "--epochs must be at least 1, got " << epochs;
  AN_CHECK(batch_size >= 1) << "--batch-size must be at least 1, got " << batch_size;
  AN_CHECK(learning_rate > 0) << "--learning-rate must be positive, got " << learning_rate;
  AN_CHECK(learning_rate_min >= 0 && learning_rate_min <= learning_rate)
      << "--learning-rate-min must be in [0, learning_rate = " << learning_rate << "], got "
      << learning_rate_min;
  AN_CHECK(momentum >= 0 && momentum < 1) << "--momentum must be in [0, 1), got " << momentum;
  AN_CHECK(weight_decay >= 0) << "--weight-decay must be non-negative, got " << weight_decay;
  AN_CHECK(grad_clip > 0) << "--grad-clip must be positive, got " << grad_clip;
}

void check_finite(double value, const std::string& what, const std::string& where) {
  AN_CHECK(std::isfinite(value)) << "the " << what << " became " << value << " " << where
                                 << "; stopping (the last good checkpoint is kept as it was)";
}

void check_finite_weights(const Tensor& flat_weights, const std::string& where) {
  const double norm = global_norm({flat_weights});
  AN_CHECK(std::isfinite(norm)) << "the weights hold a NaN or an infinity " << where
                                << "; stopping without writing a checkpoint (the last good checkpoint is kept as it was)";
}

EvalResult evaluate(const std::function<Variable(const Variable&)>& forward, data::Loader& loader) {
  NoGradGuard no_grad;
  Meter meter;
  int64_t top5 = 0;
  while (std::optional<data::Batch> b = loader.next()) {
    const Variable logits = forward(Variable(b->images));
    const double loss = cross_entropy(logits, b->labels).value().item();
    meter.add(loss, count_correct(logits.value(), b->labels), b->labels.numel());
    top5 += count_top_k(logits.value(), b->labels, 5);
  }
  return {meter.loss(), meter.accuracy(), meter.count,
          meter.count > 0 ? static_cast<double>(top5) / static_cast<double>(meter.count) : 0.0};
}

data::ImageSet first_images(const data::ImageSet& set, int64_t n) {
  if (n <= 0 || n >= set.size()) return set;
  // Image files stay listed in full; the labels say how many are used.
  return {set.files ? Tensor() : set.images.slice(0, 0, n), set.labels.slice(0, 0, n), set.files};
}

data::FolderOptions folder_options(const nlohmann::json& config) {
  data::FolderOptions o;
  o.image_size = config.value("image_size", o.image_size);
  o.skip_bad_images = config.value("skip_bad_images", o.skip_bad_images);
  o.compute_mean_std = config.value("compute_mean_std", o.compute_mean_std);
  return o;
}

nlohmann::json image_folder_info(const data::ImageData& data) {
  if (data.class_names.empty()) return nlohmann::json::object();
  return {{"class_names", data.class_names},
          {"mean", data.mean},
          {"std", data.std},
          {"skipped_images", data.skipped_images.size()}};
}

void log_skipped_images(const RunFolder& run, const data::ImageData& data) {
  if (data.skipped_images.empty()) return;
  run.append_log({{"kind", "skipped_images"},
                  {"count", data.skipped_images.size()},
                  {"files", data.skipped_images}});
}

double rounded(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

std::vector<std::vector<double>> rounded(const std::vector<std::vector<double>>& m, int digits) {
  std::vector<std::vector<double>> out = m;
  for (auto& row : out)
    for (double& x : row) x = rounded(x, digits);
  return out;
}

}  // namespace autonet::darts
