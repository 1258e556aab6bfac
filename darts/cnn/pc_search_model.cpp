// PC-DARTS's partial-channel mixed op and edge normalisation (darts/cnn/pc_search_model.h).
#include "darts/cnn/pc_search_model.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace autonet::darts {
namespace {

// Channels [begin, begin + count) of x [N, C, H, W], as a differentiable copy: x seen as
// [N, 1, C, H·W] is a 2-D slice over (C, H·W).
Variable channel_range(const Variable& x, int64_t begin, int64_t count) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Slice2dParams rows;
  rows.offset_h = begin;
  rows.out_h = count;
  rows.out_w = h * w;
  return view(slice2d(view(x, {n, 1, c, h * w}), rows), {n, count, h, w});
}

}  // namespace

PartialMixedOp::PartialMixedOp(ParameterStore& store, std::string name, int64_t channels,
                               int64_t stride, int64_t partial_channels)
    : MixedOp(store, std::move(name), channels / partial_channels, stride),
      channels_(channels),
      stride_(stride),
      partial_channels_(partial_channels) {
  AN_CHECK(partial_channels >= 1 && channels % partial_channels == 0)
      << "partial-channel mixed op '" << this->name() << "': " << channels
      << " channels do not split into " << partial_channels << " parts";
}

Variable PartialMixedOp::forward(const Variable& x, const Variable& weights) {
  AN_CHECK(x.dim() == 4 && x.size(1) == channels_)
      << "partial-channel mixed op '" << name() << "' expects [N, " << channels_
      << ", H, W], got " << x.value().describe();
  const int64_t head_channels = channels_ / partial_channels_;
  const Variable head = MixedOp::forward(channel_range(x, 0, head_channels), weights);
  Variable tail = channel_range(x, head_channels, channels_ - head_channels);
  // The official code pools the bypass whenever the mixed op changed the resolution.
  if (stride_ == 2) tail = max_pool2d(tail, 2, 2, 0);
  AN_CHECK(tail.size(2) == head.size(2) && tail.size(3) == head.size(3))
      << "partial-channel mixed op '" << name() << "': a " << x.size(2) << "×" << x.size(3)
      << " input halves to " << head.size(2) << "×" << head.size(3) << " through the ops but to "
      << tail.size(2) << "×" << tail.size(3) << " through the bypass pooling; use even sizes";
  return channel_shuffle(head, tail, partial_channels_);
}

std::vector<Variable> edge_normalization_weights(const Variable& beta, int nodes) {
  const int64_t edges = search_edge_count(nodes);
  AN_CHECK(beta.dim() == 1 && beta.size(0) == edges)
      << "edge normalisation: " << nodes << " nodes need β [" << edges << "], got "
      << beta.value().describe();
  const Variable row = view(beta, {1, 1, 1, edges});
  std::vector<Variable> per_node;
  int64_t start = 0;
  for (int i = 0; i < nodes; ++i) {
    Slice2dParams inputs;
    inputs.offset_w = start;
    inputs.out_h = 1;
    inputs.out_w = 2 + i;
    per_node.push_back(softmax(view(slice2d(row, inputs), {2 + i})));
    start += 2 + i;
  }
  return per_node;
}

std::vector<double> host_edge_normalization(const Variable& beta, int nodes) {
  const std::vector<double> b = beta.value().to(Device::cpu()).to(DType::f64).to_vector<double>();
  AN_CHECK(static_cast<int64_t>(b.size()) == search_edge_count(nodes))
      << "edge normalisation: " << nodes << " nodes need " << search_edge_count(nodes)
      << " β values, got " << b.size();
  std::vector<double> w(b.size());
  size_t start = 0;
  for (int i = 0; i < nodes; ++i) {
    const size_t end = start + 2 + i;
    const double top = *std::max_element(b.begin() + start, b.begin() + end);
    double total = 0;
    for (size_t e = start; e < end; ++e) total += w[e] = std::exp(b[e] - top);
    for (size_t e = start; e < end; ++e) w[e] /= total;
    start = end;
  }
  return w;
}

std::vector<std::vector<double>> edge_weighted_rows(std::vector<std::vector<double>> alpha_rows,
                                                    const std::vector<double>& edge_weights) {
  AN_CHECK(alpha_rows.size() == edge_weights.size())
      << "edge-weighted rows: " << alpha_rows.size() << " α rows but " << edge_weights.size()
      << " edge weights";
  for (size_t e = 0; e < alpha_rows.size(); ++e)
    for (double& v : alpha_rows[e]) v *= edge_weights[e];
  return alpha_rows;
}

}  // namespace autonet::darts
