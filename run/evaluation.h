// Classifier figures: running loss/accuracy meters and the evaluation of a network over a
// loader's epoch. Shared by the DARTS tasks and the hyperparameter-search workloads.
#pragma once
#include <cstdint>
#include <functional>

#include "autograd/variable.h"
#include "datasets/loader.h"

namespace autonet::run {

// Correct predictions of logits [N, K] for labels [N] (one small copy to the host); the first
// maximum wins a tie, as torch's argmax.
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// Rows whose label is among the `top` highest logits (ties: the earlier class ranks first, so
// top 1 is count_correct).
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

// Mean cross-entropy and accuracy of `forward` over a loader's epoch (no gradients recorded;
// the caller puts the network in eval mode).
struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t images = 0;
  double top5 = 0;  // share of images whose label is among the 5 highest logits
};
EvalResult evaluate(const std::function<Variable(const Variable&)>& forward, data::Loader& loader);

}  // namespace autonet::run
