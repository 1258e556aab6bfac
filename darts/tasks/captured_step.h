// The search step replayed from CUDA Graphs (runtime/cuda_graph.h), first or second order.
//
// search_step launches ~17,000 small kernels at the default config, and on a GPU the host's cost
// per op (tape, dispatch, launch) is larger than the kernels' own time. Here the two passes that
// hold nearly all of those launches — the α pass (∇α L_val) and the weight pass (∇w L_train) —
// are captured once and replayed every step; the optimizer steps (Adam on α, clip + SGD on w)
// stay eager, so the learning rate's schedule and Adam's step count need no re-capture. The
// kernels, their order and so every value are those of search_step: a replayed step is
// bit-identical to an eager one (tests/darts/tasks/test_captured_step.cpp).
//
// The first step runs eagerly (it warms cuBLAS and the allocator); the second captures. A batch
// of another shape than the captured one (the short last batch of an epoch) runs eagerly.
//
// Second order: the α pass (w′'s training pass, the validation pass at w′, the two passes at
// w ± R·v, R on the device) reads both batches, and freezes ξ — the weights' learning rate — and
// whether SGD has a momentum buffer into its launches (Architect::compute_gradient): its graph is
// captured again when either changes, once an epoch under the cosine schedule.
//
// PC-DARTS: β lives in the architecture store beside α, so the α pass computes its gradient and
// Adam steps it with α's. Its warm-up epochs with α and β frozen (frozen_step) replay the weight
// pass alone; the α pass is captured when α starts to train.
#pragma once
#include <memory>
#include <string>

#include "autograd/optimizer.h"
#include "darts/cnn/architect.h"
#include "darts/tasks/search_step.h"
#include "runtime/cuda_graph.h"

namespace autonet::darts {

class CapturedSearchStep {
 public:
  // The network lives on a CUDA device.
  CapturedSearchStep(SearchNetwork& net, Architect& architect, Sgd& weight_optimizer,
                     double grad_clip);
  // Same contract as search_step.
  SearchStepResult step(const Tensor& train_images, const Tensor& train_labels,
                        const Tensor& valid_images, const Tensor& valid_labels,
                        const std::string& where = "");
  // Same contract as frozen_arch_step (α and β frozen): the weight pass alone.
  SearchStepResult frozen_step(const Tensor& train_images, const Tensor& train_labels,
                               const std::string& where = "");
  bool captured() const { return alpha_graph_ != nullptr && weight_graph_ != nullptr; }
  bool weight_pass_captured() const { return weight_graph_ != nullptr; }
  // Device memory the two graphs keep for their temporaries (0 before the capture).
  size_t graph_pool_bytes() const;

 private:
  // Each pass is captured on its first use after the warm-up, the two sharing one pool (they
  // never overlap, so their temporaries may share memory).
  void capture_weight_pass(const Tensor& train_images, const Tensor& train_labels);
  void capture_alpha_pass(const Tensor& train_images, const Tensor& train_labels,
                          const Tensor& valid_images, const Tensor& valid_labels);
  std::shared_ptr<CudaGraphPool> shared_pool() const;
  // Whether the α graph froze another ξ or momentum state than the weight optimizer's now.
  bool alpha_graph_is_stale() const;

  SearchNetwork& net_;
  Architect& architect_;
  Sgd& weight_optimizer_;
  double grad_clip_;
  bool warmed_up_ = false;         // an eager step with both passes has run
  bool weight_warmed_up_ = false;  // an eager step with the weight pass has run
  // The graphs read these and write those; inputs are refilled before every replay.
  Tensor train_images_, train_labels_, valid_images_, valid_labels_;
  ArchStepValues arch_values_;
  WeightPass weight_pass_;
  double captured_lr_ = 0;          // ξ frozen into the α graph (second order)
  bool captured_momentum_ = false;  // whether SGD's momentum buffer entered it
  std::unique_ptr<CudaGraph> alpha_graph_, weight_graph_;
};

}  // namespace autonet::darts
