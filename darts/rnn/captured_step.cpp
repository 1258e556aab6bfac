#include "darts/rnn/captured_step.h"

#include <vector>

#include "runtime/error.h"

namespace autonet::darts {

namespace {

// Graph inputs shaped like `s` (made once per length).
RnnSegment inputs_like(const RnnSegment& s) {
  auto like = [](const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); };
  return {like(s.input), like(s.target), like(s.hidden)};
}

void refill(RnnSegment& inputs, const RnnSegment& s) {
  inputs.input.copy_from(s.input);
  inputs.target.copy_from(s.target);
  inputs.hidden.copy_from(s.hidden);
}

}  // namespace

CapturedRnnStep::CapturedRnnStep(RnnModel& model, ParameterStore* alphas,
                                 RnnArchitect* architect, double ar_alpha, double tar_beta,
                                 double grad_clip)
    : model_(model),
      alphas_(alphas),
      architect_(architect),
      ar_alpha_(ar_alpha),
      tar_beta_(tar_beta),
      grad_clip_(grad_clip) {
  const Device device = model.weight_store().weights().device();
  AN_CHECK(device.is_cuda())
      << "captured recurrent step: the model must be on a CUDA device, it is on " << device.str();
  AN_CHECK((alphas == nullptr) == (architect == nullptr))
      << "captured recurrent step: a search needs its α store and architect, a training neither";
}

size_t CapturedRnnStep::captured_lengths() const {
  size_t n = 0;
  for (const auto& [length, g] : by_length_) n += g.weight.graph ? 1 : 0;
  return n;
}

size_t CapturedRnnStep::graph_pool_bytes() const {
  const std::shared_ptr<CudaGraphPool> pool = shared_pool();
  return pool ? cuda_graph_pool_bytes(pool) : 0;
}

std::shared_ptr<CudaGraphPool> CapturedRnnStep::shared_pool() const {
  // Every pass of every length runs alone: their temporaries may share one pool.
  for (const auto& [length, g] : by_length_)
    for (const Pass* p : {&g.alpha, &g.weight})
      if (p->graph) return p->graph->pool();
  return nullptr;  // the first graph makes it
}

void CapturedRnnStep::capture(Pass& pass, const std::function<void()>& work) {
  const Device device = model_.weight_store().weights().device();
  if (!pass.graph) pass.graph = std::make_unique<CudaGraph>(device, shared_pool());
  const Offsets start = model_.rng_offsets();
  model_.anchor_rng(reinterpret_cast<const uint64_t*>(pass.bases.data<int64_t>()));
  try {
    pass.graph->capture(work);
  } catch (...) {
    model_.unanchor_rng();
    model_.set_rng_offsets(start);
    throw;
  }
  model_.unanchor_rng();
  const Offsets end = model_.rng_offsets();
  for (int d = 0; d < kRnnDropouts; ++d) pass.advance[d] = end[d] - start[d];
  model_.set_rng_offsets(start);  // the capture ran nothing, so it drew nothing
}

void CapturedRnnStep::replay(Graphs& g) {
  // The α pass starts at the generators' offsets now, the weight pass where the α pass leaves
  // them (the α pass's advance is zero in training, where it is not captured).
  const Offsets start = model_.rng_offsets();
  std::vector<int64_t> bases(2 * kRnnDropouts);
  for (int d = 0; d < kRnnDropouts; ++d) {
    bases[d] = static_cast<int64_t>(start[d]);
    bases[kRnnDropouts + d] = static_cast<int64_t>(start[d] + g.alpha.advance[d]);
  }
  g.bases.copy_from(Tensor::from_vector(bases, {2, kRnnDropouts}));
  Offsets end = start;
  for (int d = 0; d < kRnnDropouts; ++d) end[d] += g.alpha.advance[d] + g.weight.advance[d];
  if (architect_) {
    g.alpha.graph->replay();
    architect_->optimizer().step();
  }
  g.weight.graph->replay();
  model_.set_rng_offsets(end);
}

void CapturedRnnStep::capture_passes(Graphs& g, const Optimizer& optimizer,
                                     const RnnSegment& train, const RnnSegment* valid) {
  if (!g.train.input.defined()) {
    g.train = inputs_like(train);
    if (valid) g.valid = inputs_like(*valid);
    g.bases = Tensor::empty({2, kRnnDropouts}, DType::i64, train.input.device());
    g.alpha.bases = g.bases.select(0, 0);
    g.weight.bases = g.bases.select(0, 1);
  }
  if (architect_ && (!g.alpha.graph || g.alpha_lr != optimizer.lr())) {
    g.alpha_lr = optimizer.lr();
    const Sgd& sgd = dynamic_cast<const Sgd&>(optimizer);
    capture(g.alpha, [&] { g.arch = architect_->compute_gradient(sgd, g.train, g.valid); });
  }
  if (!g.weight.graph)
    capture(g.weight,
            [&] { g.pass = rnn_weight_pass(model_, alphas_, g.train, ar_alpha_, tar_beta_); });
}

CapturedRnnStep::Result CapturedRnnStep::step(Optimizer& optimizer, const RnnSegment& train,
                                              const RnnSegment* valid) {
  AN_CHECK((valid != nullptr) == (architect_ != nullptr))
      << "captured recurrent step: a search step takes a validation window, a training step none";
  Graphs& g = by_length_[{train.input.size(0), valid ? valid->input.size(0) : 0}];
  if (++g.steps == 1) {  // a length's first step runs eagerly
    Result r;
    if (architect_) r.arch = architect_->step(dynamic_cast<const Sgd&>(optimizer), train, *valid);
    r.weight = rnn_weight_step(model_, alphas_, optimizer, train, ar_alpha_, tar_beta_, grad_clip_);
    return r;
  }
  capture_passes(g, optimizer, train, valid);
  refill(g.train, train);
  if (architect_) refill(g.valid, *valid);
  replay(g);
  return {g.arch, finish_rnn_weight_step(model_, optimizer, g.pass, grad_clip_)};
}

}  // namespace autonet::darts
