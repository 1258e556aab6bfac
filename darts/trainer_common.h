// Pieces both DARTS trainers (search and training from scratch) share: run options, the live
// progress line, loss/accuracy meters, evaluation, the checks that keep a bad run from writing a
// bad checkpoint, and data subsets.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/safetensors.h"
#include "autograd/variable.h"
#include "datasets/image_dataset.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"

// to_json and from_json of a run config from its X-macro list of fields: each field under its
// own name; keys a JSON object lacks keep the config's defaults. Used inside namespace
// autonet::darts of the trainer's .cpp:  AN_DEFINE_CONFIG_JSON(SearchRunConfig, FIELDS)
#define AN_CONFIG_FIELD_TO_JSON(field) j[#field] = c.field;
#define AN_CONFIG_FIELD_FROM_JSON(field) \
  if (j.contains(#field)) j.at(#field).get_to(c.field);
#define AN_DEFINE_CONFIG_JSON(Type, FIELDS)                    \
  void to_json(nlohmann::json& j, const Type& c) {             \
    j = nlohmann::json::object();                              \
    FIELDS(AN_CONFIG_FIELD_TO_JSON)                            \
  }                                                            \
  void from_json(const nlohmann::json& j, Type& c) { FIELDS(AN_CONFIG_FIELD_FROM_JSON) }

namespace autonet::darts {

// How a run is carried out; none of this changes its results.
struct RunOptions {
  bool progress = true;            // the live progress line on stderr
  int64_t stop_after_epochs = -1;  // stop (as if interrupted) after this many epochs this session
  std::string device;              // resume only: run on this device instead of the stored one
  // Fault injection for tests of the NaN rollback (RNN training): called before each training
  // step with (epoch, step within the epoch); true poisons one weight with NaN for that step, as
  // a diverging step would. Empty in real runs.
  std::function<bool(int64_t, int64_t)> poison_weights;
};

// Seconds of wall time since t.
double seconds_since(std::chrono::steady_clock::time_point t);
// (name, tensor) pairs as checkpoint entries, and appending one list of entries to another.
std::vector<NamedTensor> named(const std::vector<std::pair<std::string, Tensor>>& tensors);
void append(std::vector<NamedTensor>& to, const std::vector<NamedTensor>& more);

// The device a config names: "auto" = cuda when one is usable, else cpu.
Device resolve_device(const std::string& name);

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

// Correct predictions of logits [N, K] for labels [N] (one small copy to the host).
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// Rows whose label is among the `top` highest logits (ties: the earlier class ranks first).
int64_t count_top_k(const Tensor& logits, const Tensor& labels, int64_t top);

// Running mean loss and accuracy over an epoch.
struct Meter {
  double loss_sum = 0;
  int64_t correct = 0, count = 0;
  void add(double mean_loss, int64_t n_correct, int64_t n) {
    loss_sum += mean_loss * static_cast<double>(n);
    correct += n_correct;
    count += n;
  }
  double loss() const { return count ? loss_sum / static_cast<double>(count) : 0.0; }
  double accuracy() const { return count ? static_cast<double>(correct) / count : 0.0; }
};

class RunFolder;

// Step bookkeeping shared by the trainers: the progress line (with images/s and an ETA from this
// session's pace) and the step summaries in log.jsonl every `log_every` steps.
class StepTracker {
 public:
  StepTracker(ProgressLine& line, const RunFolder& run, int64_t epochs, int64_t steps_per_epoch,
              int64_t log_every);
  void start_epoch(int64_t epoch, double lr);
  // After a step: batch index within the epoch (0-based), steps completed in the whole run.
  void step(int64_t batch, int64_t global_step, const Meter& meter, double step_seconds);
  void end_epoch(double eval_seconds);
  double train_seconds() const { return train_seconds_; }  // this epoch's steps only
  double images_per_second(const Meter& meter) const;

 private:
  ProgressLine& line_;
  const RunFolder& run_;
  int64_t epochs_, steps_per_epoch_, log_every_;
  int64_t epoch_ = 0;
  double lr_ = 0, train_seconds_ = 0;
  double session_step_seconds_ = 0, session_eval_seconds_ = 0;
  int64_t session_steps_ = 0, session_evals_ = 0;
};

// Throws, naming what and where, when a loss (or gradient norm) is NaN or infinite: the caller
// then stops before its next checkpoint, so the last good checkpoint stays as it is.
void check_finite(double value, const std::string& what, const std::string& where);
// The weight schedule's flags both image trainers share (--epochs … --grad-clip), each refused
// with its flag's name.
void check_sgd_flags(int64_t epochs, int64_t batch_size, double learning_rate,
                     double learning_rate_min, double momentum, double weight_decay,
                     double grad_clip);
// Throws when a flat weight buffer holds a NaN or an infinity (checked before every checkpoint).
void check_finite_weights(const Tensor& flat_weights, const std::string& where);

// Mean cross-entropy and accuracy of `forward` over a loader's epoch (no gradients recorded).
struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t images = 0;
  double top5 = 0;  // share of images whose label is among the 5 highest logits
};
EvalResult evaluate(const std::function<Variable(const Variable&)>& forward, data::Loader& loader);

// The first `n` images of a set (n ≤ 0: all of it), sharing the pixels.
data::ImageSet first_images(const data::ImageSet& set, int64_t n);

// Image folders (--dataset folder): the options of a config's keys image_size, skip_bad_images
// and compute_mean_std (absent keys: the defaults) ...
data::FolderOptions folder_options(const nlohmann::json& config);
// ... and what the run folder records of them beyond the flags: in config.json's "run" the
// class names in label order, the normalisation constants and the number of skipped images
// (empty for other data sets); in log.jsonl a "skipped_images" record naming each skipped file.
nlohmann::json image_folder_info(const data::ImageData& data);
void log_skipped_images(const RunFolder& run, const data::ImageData& data);

// A value rounded to `digits` decimals: keeps logged α matrices readable.
double rounded(double value, int digits = 6);
std::vector<std::vector<double>> rounded(const std::vector<std::vector<double>>& m,
                                         int digits = 6);

}  // namespace autonet::darts
