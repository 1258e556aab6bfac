#include "autograd/lr_schedule.h"

#include <cmath>
#include <numbers>

#include "autograd/optimizer.h"

namespace autonet {

void LrSchedule::apply(Optimizer& optimizer, int64_t epoch) const {
  optimizer.set_lr(lr_at(epoch));
}

ConstantLr::ConstantLr(double lr) : lr_(lr) {
  AN_CHECK(lr >= 0) << "ConstantLr: invalid learning rate " << lr;
}

double ConstantLr::lr_at(int64_t epoch) const {
  AN_CHECK(epoch >= 0) << "ConstantLr: negative epoch " << epoch;
  return lr_;
}

CosineAnnealingLr::CosineAnnealingLr(double base_lr, int64_t t_max, double eta_min)
    : base_lr_(base_lr), t_max_(t_max), eta_min_(eta_min) {
  AN_CHECK(t_max > 0) << "CosineAnnealingLr: t_max must be positive, got " << t_max;
  AN_CHECK(base_lr >= 0 && eta_min >= 0)
      << "CosineAnnealingLr: invalid base_lr " << base_lr << " or eta_min " << eta_min;
}

double CosineAnnealingLr::lr_at(int64_t epoch) const {
  AN_CHECK(epoch >= 0) << "CosineAnnealingLr: negative epoch " << epoch;
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(phase)) / 2;
}

StepLr::StepLr(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
  AN_CHECK(step_size > 0) << "StepLr: step_size must be positive, got " << step_size;
  AN_CHECK(base_lr >= 0 && gamma > 0 && gamma <= 1)
      << "StepLr: invalid base_lr " << base_lr << " or gamma " << gamma << " (in (0, 1])";
}

double StepLr::lr_at(int64_t epoch) const {
  AN_CHECK(epoch >= 0) << "StepLr: negative epoch " << epoch;
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

}  // namespace autonet
