// The search step (reference darts.md §3.3) on its own: the α step, then the weight step. Shared by
// the search task (darts/tasks/search_trainer.cpp), the graph-replayed step
// (darts/tasks/captured_step.h) and bench/bench_search_step.cpp.
#pragma once
#include <string>

#include "autograd/optimizer.h"
#include "darts/cnn/architect.h"
#include "runtime/tensor.h"

namespace autonet::darts {

class SearchNetwork;

// One search step (§3.3): the α step on the validation batch, then the weight step on the train
// batch (zero, forward with the updated α, backward, clip to `grad_clip`, SGD). Throws when a
// loss or the gradient norm is not finite (`where` names the step). Used by the trainer and by
// bench/bench_search_step.cpp, so the benchmark times exactly what a run does.
struct SearchStepResult {
  double loss = 0;      // training loss before the weight step
  int64_t correct = 0;  // correct predictions on the train batch
};
SearchStepResult search_step(SearchNetwork& net, Architect& architect, Sgd& weight_optimizer,
                             const Tensor& train_images, const Tensor& train_labels,
                             const Tensor& valid_images, const Tensor& valid_labels,
                             double grad_clip, const std::string& where = "");

// A step with α and β frozen (PC-DARTS's warm-up epochs): the weight step alone.
SearchStepResult frozen_arch_step(SearchNetwork& net, Sgd& weight_optimizer,
                                  const Tensor& train_images, const Tensor& train_labels,
                                  double grad_clip, const std::string& where = "");

// The two halves of search_step, shared with the graph-replayed step (darts/tasks/captured_step.h).
// The weight pass: zero the weights' gradients, forward with the current α, backward; the loss
// [1] and the logits stay on the device (no host sync: capturable).
struct WeightPass {
  Tensor loss, logits;
};
WeightPass weight_pass(SearchNetwork& net, const Tensor& train_images, const Tensor& train_labels);
// Clip (on the device), SGD step, then the step's one host sync: reads and checks the losses,
// the gradient norm and what the α step left (`arch`: empty when α is frozen), counts correct
// predictions.
SearchStepResult finish_weight_step(SearchNetwork& net, Sgd& weight_optimizer,
                                    const WeightPass& pass, const ArchStepValues& arch,
                                    const Tensor& train_labels, double grad_clip,
                                    const std::string& where);


}  // namespace autonet::darts
