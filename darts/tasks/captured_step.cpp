#include "darts/tasks/captured_step.h"

#include "runtime/error.h"

namespace autonet::darts {

CapturedSearchStep::CapturedSearchStep(SearchNetwork& net, Architect& architect,
                                       Sgd& weight_optimizer, double grad_clip)
    : net_(net), architect_(architect), weight_optimizer_(weight_optimizer), grad_clip_(grad_clip) {
  AN_CHECK(!architect.config().unrolled)
      << "captured search step: second order reads ‖v‖ on the host and cannot be captured";
  AN_CHECK(net.weight_store().weights().device().is_cuda())
      << "captured search step: the network must be on a CUDA device, it is on "
      << net.weight_store().weights().device().str();
}

bool CapturedSearchStep::matches_capture(const Tensor& train_images,
                                         const Tensor& valid_images) const {
  return train_images.shape() == train_images_.shape() &&
         valid_images.shape() == valid_images_.shape();
}

void CapturedSearchStep::capture(const Tensor& train_images, const Tensor& train_labels,
                                 const Tensor& valid_images, const Tensor& valid_labels) {
  // The graphs' inputs: filled before every replay.
  for (auto [to, like] : {std::pair{&train_images_, &train_images}, {&train_labels_, &train_labels},
                          {&valid_images_, &valid_images}, {&valid_labels_, &valid_labels}})
    *to = Tensor::empty(like->shape(), like->dtype(), like->device());
  const Device device = train_images.device();
  // One pool for both: the passes never overlap, so their temporaries may share memory.
  alpha_graph_ = std::make_unique<CudaGraph>(device);
  weight_graph_ = std::make_unique<CudaGraph>(device, alpha_graph_->pool());
  alpha_graph_->capture(
      [&] {
        alpha_loss_ = architect_.compute_gradient(train_images_, train_labels_, valid_images_,
                                                  valid_labels_);
      });
  weight_graph_->capture([&] { weight_pass_ = weight_pass(net_, train_images_, train_labels_); });
}

size_t CapturedSearchStep::graph_pool_bytes() const {
  return alpha_graph_ ? cuda_graph_pool_bytes(alpha_graph_->pool()) : 0;
}

SearchStepResult CapturedSearchStep::step(const Tensor& train_images, const Tensor& train_labels,
                                          const Tensor& valid_images, const Tensor& valid_labels,
                                          const std::string& where) {
  if (!warmed_up_ || (captured() && !matches_capture(train_images, valid_images))) {
    warmed_up_ = true;
    return search_step(net_, architect_, weight_optimizer_, train_images, train_labels,
                       valid_images, valid_labels, grad_clip_, where);
  }
  if (!captured()) capture(train_images, train_labels, valid_images, valid_labels);
  train_images_.copy_from(train_images);
  train_labels_.copy_from(train_labels);
  valid_images_.copy_from(valid_images);
  valid_labels_.copy_from(valid_labels);
  alpha_graph_->replay();
  architect_.apply_gradient();
  weight_graph_->replay();
  return finish_weight_step(net_, weight_optimizer_, weight_pass_, alpha_loss_, train_labels_,
                            grad_clip_, where);
}

}  // namespace autonet::darts
