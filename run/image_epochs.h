// The epochs of an image-classifier task (CNN search and training): the training pass over a
// loader with a running loss/accuracy, images/s and an ETA on the progress line, step summaries
// in log.jsonl every `log_every` steps, and the evaluation after it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "datasets/loader.h"
#include "run/engine.h"
#include "run/evaluation.h"

namespace autonet::run {

// What one training step reports: the batch's mean loss and its correct predictions.
struct StepFigures {
  double loss = 0;
  int64_t correct = 0;
};
// A task's training step on a batch; `where` ("at epoch 3 step 12") names it in its errors.
using ImageStep = std::function<StepFigures(const data::Batch& batch, const std::string& where)>;

class ImageEpochs {
 public:
  // Made in the task's start hook (one per session: the ETA uses this session's pace).
  ImageEpochs(Engine& engine, int64_t steps_per_epoch, int64_t log_every);

  // Epoch engine.epoch() at learning rate `lr`: `step` on every batch of `loader`.
  Meter train(data::Loader& loader, double lr, const ImageStep& step);
  // `forward` over `loader` (the caller sets eval mode); throws when the loss of `set` ("valid",
  // "test") is not finite.
  EvalResult evaluate(const std::function<Variable(const Variable&)>& forward,
                      data::Loader& loader, const std::string& set);
  // Over the last train() only.
  double images_per_second(const Meter& meter) const;

 private:
  void show_step(int64_t batch, const Meter& meter, double step_seconds);

  Engine& engine_;
  int64_t steps_per_epoch_, log_every_;
  double lr_ = 0, train_seconds_ = 0;
  double session_step_seconds_ = 0, session_eval_seconds_ = 0;
  int64_t session_steps_ = 0, session_evals_ = 0;
};

}  // namespace autonet::run
