// Learning-rate schedules, stepped per epoch: at the start of epoch e the trainer calls
// schedule.apply(optimizer, e) (or set_lr(lr_at(e))).
#pragma once
#include <cstdint>

namespace autonet {

class Optimizer;

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t epoch) const = 0;  // epoch ≥ 0
  void apply(Optimizer& optimizer, int64_t epoch) const;
};

class ConstantLr final : public LrSchedule {
 public:
  explicit ConstantLr(double lr);
  double lr_at(int64_t epoch) const override;

 private:
  double lr_;
};

// torch's CosineAnnealingLR in closed form (PyTorch 0.3.1, which DARTS' numbers come from):
// lr_e = eta_min + (base_lr − eta_min)·(1 + cos(π·e / t_max)) / 2. DARTS CNN search:
// base 0.025, t_max 50, eta_min 0.001 → lr_0 = 0.025, lr_25 = 0.013, lr_49 ≈ 0.0010237.
class CosineAnnealingLr final : public LrSchedule {
 public:
  CosineAnnealingLr(double base_lr, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t epoch) const override;

 private:
  double base_lr_;
  int64_t t_max_;
  double eta_min_;
};

// torch's StepLR: lr_e = base_lr · gamma^⌊e / step_size⌋. DARTS' ImageNet training
// (train_imagenet.py): base 0.1, gamma 0.97, step 1 → lr_1 = 0.097, lr_249 ≈ 5.1e-5.
class StepLr final : public LrSchedule {
 public:
  StepLr(double base_lr, int64_t step_size, double gamma);
  double lr_at(int64_t epoch) const override;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

}  // namespace autonet
