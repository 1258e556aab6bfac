#include "darts/tasks/captured_step.h"

#include "runtime/error.h"

namespace autonet::darts {

CapturedSearchStep::CapturedSearchStep(SearchNetwork& net, Architect& architect,
                                       Sgd& weight_optimizer, double grad_clip)
    : net_(net), architect_(architect), weight_optimizer_(weight_optimizer), grad_clip_(grad_clip) {
  AN_CHECK(net.weight_store().weights().device().is_cuda())
      << "captured search step: the network must be on a CUDA device, it is on "
      << net.weight_store().weights().device().str();
}

namespace {

// Whether a batch fits the pass captured for `input` (or nothing is captured for it yet).
bool fits(const Tensor& input, const Tensor& batch) {
  return !input.defined() || input.shape() == batch.shape();
}

// A graph input shaped like `batch`, made once: both passes read the train batch in second order,
// so whichever is captured first makes it and the other reads the same memory.
void make_input(Tensor& input, const Tensor& batch) {
  if (!input.defined()) input = Tensor::empty(batch.shape(), batch.dtype(), batch.device());
}

}  // namespace

std::shared_ptr<CudaGraphPool> CapturedSearchStep::shared_pool() const {
  if (alpha_graph_) return alpha_graph_->pool();
  if (weight_graph_) return weight_graph_->pool();
  return nullptr;  // the first graph makes its own
}

void CapturedSearchStep::capture_weight_pass(const Tensor& train_images,
                                             const Tensor& train_labels) {
  make_input(train_images_, train_images);  // filled before every replay
  make_input(train_labels_, train_labels);
  weight_graph_ = std::make_unique<CudaGraph>(train_images.device(), shared_pool());
  weight_graph_->capture([&] { weight_pass_ = weight_pass(net_, train_images_, train_labels_); });
}

void CapturedSearchStep::capture_alpha_pass(const Tensor& train_images,
                                            const Tensor& train_labels,
                                            const Tensor& valid_images,
                                            const Tensor& valid_labels) {
  make_input(train_images_, train_images);  // read by second order only
  make_input(train_labels_, train_labels);
  make_input(valid_images_, valid_images);
  make_input(valid_labels_, valid_labels);
  if (!alpha_graph_)
    alpha_graph_ = std::make_unique<CudaGraph>(valid_images.device(), shared_pool());
  captured_lr_ = weight_optimizer_.lr();
  captured_momentum_ = weight_optimizer_.has_momentum_buffer();
  alpha_graph_->capture([&] {
    arch_values_ =
        architect_.compute_gradient(train_images_, train_labels_, valid_images_, valid_labels_);
  });
}

bool CapturedSearchStep::alpha_graph_is_stale() const {
  return architect_.config().unrolled &&
         (captured_lr_ != weight_optimizer_.lr() ||
          captured_momentum_ != weight_optimizer_.has_momentum_buffer());
}

size_t CapturedSearchStep::graph_pool_bytes() const {
  const std::shared_ptr<CudaGraphPool> pool = shared_pool();
  return pool ? cuda_graph_pool_bytes(pool) : 0;
}

SearchStepResult CapturedSearchStep::step(const Tensor& train_images, const Tensor& train_labels,
                                          const Tensor& valid_images, const Tensor& valid_labels,
                                          const std::string& where) {
  if (!warmed_up_ || !fits(train_images_, train_images) || !fits(valid_images_, valid_images)) {
    warmed_up_ = weight_warmed_up_ = true;
    return search_step(net_, architect_, weight_optimizer_, train_images, train_labels,
                       valid_images, valid_labels, grad_clip_, where);
  }
  if (!alpha_graph_ || alpha_graph_is_stale())
    capture_alpha_pass(train_images, train_labels, valid_images, valid_labels);
  if (!weight_graph_) capture_weight_pass(train_images, train_labels);
  train_images_.copy_from(train_images);
  train_labels_.copy_from(train_labels);
  valid_images_.copy_from(valid_images);
  valid_labels_.copy_from(valid_labels);
  alpha_graph_->replay();
  architect_.apply_gradient();
  weight_graph_->replay();
  return finish_weight_step(net_, weight_optimizer_, weight_pass_, arch_values_, train_labels_,
                            grad_clip_, where);
}

SearchStepResult CapturedSearchStep::frozen_step(const Tensor& train_images,
                                                 const Tensor& train_labels,
                                                 const std::string& where) {
  if (!weight_warmed_up_ || !fits(train_images_, train_images)) {
    weight_warmed_up_ = true;
    return frozen_arch_step(net_, weight_optimizer_, train_images, train_labels, grad_clip_,
                            where);
  }
  if (!weight_graph_) capture_weight_pass(train_images, train_labels);
  train_images_.copy_from(train_images);
  train_labels_.copy_from(train_labels);
  weight_graph_->replay();
  return finish_weight_step(net_, weight_optimizer_, weight_pass_, {}, train_labels_, grad_clip_,
                            where);
}

}  // namespace autonet::darts
