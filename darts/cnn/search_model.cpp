// The DARTS search network (reference darts.md §2).
#include "darts/cnn/search_model.h"

#include <algorithm>
#include <cmath>

#include "darts/cnn/ops.h"
#include "darts/cnn/pc_search_model.h"
#include "darts/cnn/state_pipeline.h"
#include "darts/primitives.h"
#include "runtime/error.h"
#include "runtime/side_stream.h"

namespace autonet::darts {
namespace {

// Column of `none` in the α matrices: its op is skipped, so the mixed sum takes the other columns.
constexpr size_t kNoneColumn = 0;

Variable sum_all(const std::vector<Variable>& xs) {
  Variable total = xs.at(0);
  for (size_t i = 1; i < xs.size(); ++i) total = add(total, xs[i]);
  return total;
}

}  // namespace

MixedWeights::MixedWeights(const Variable& alpha) {
  AN_CHECK(alpha.dim() == 2 && alpha.size(1) >= 2)
      << "mixed weights expect α [edges, primitives], got " << alpha.value().describe();
  softmax_ = view(softmax(alpha), {1, 1, alpha.size(0), alpha.size(1)});
}

const Variable& MixedWeights::edges(int64_t first, int64_t count) {
  Variable& cut = cut_[{first, count}];
  if (cut.defined()) return cut;
  const int64_t edges = softmax_.size(2), k = softmax_.size(3);
  AN_CHECK(first >= 0 && count >= 1 && first + count <= edges)
      << "mixed weights: edges [" << first << ", " << first + count << ") of " << edges;
  Slice2dParams rows;
  rows.offset_h = first;
  rows.offset_w = static_cast<int64_t>(kNoneColumn) + 1;
  rows.out_h = count;
  rows.out_w = k - 1;
  cut = view(slice2d(softmax_, rows), {count * (k - 1)});
  return cut;
}

std::vector<Variable> mixed_op_weights(const Variable& alpha) {
  MixedWeights weights(alpha);
  std::vector<Variable> rows;
  for (int64_t e = 0; e < alpha.size(0); ++e) rows.push_back(weights.edge(e));
  return rows;
}

namespace {

std::vector<std::vector<double>> host_softmax_rows(const Variable& alpha) {
  const int64_t rows = alpha.size(0), cols = alpha.size(1);
  const std::vector<double> a = alpha.value().to(Device::cpu()).to(DType::f64).to_vector<double>();
  std::vector<std::vector<double>> w(rows, std::vector<double>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = a.data() + r * cols;
    const double top = *std::max_element(row, row + cols);
    double total = 0;
    for (int64_t c = 0; c < cols; ++c) total += w[r][c] = std::exp(row[c] - top);
    for (double& v : w[r]) v /= total;
  }
  return w;
}

// Σ_k w_k·BN_k(x_k) by bn_mixed_sum (norms[k] null: w_k·x_k). The folded BNs must agree on mode,
// momentum and eps, as the search space's BNs do.
Variable folded_mixed_sum(const std::string& op_name, const Variable& weights,
                          const std::vector<Variable>& xs, const std::vector<BatchNorm2d*>& norms) {
  if (std::none_of(norms.begin(), norms.end(), [](BatchNorm2d* bn) { return bn != nullptr; }))
    return mixed_sum(weights, xs);
  const BatchNorm2d& first = **std::find_if(norms.begin(), norms.end(),
                                            [](BatchNorm2d* bn) { return bn != nullptr; });
  BnMixedSumParams p;
  p.bn.training = first.training();
  p.bn.momentum = first.momentum;
  p.bn.eps = first.eps;
  std::vector<Tensor> running_means, running_vars;
  for (BatchNorm2d* bn : norms) {
    p.normalize.push_back(bn != nullptr);
    running_means.push_back(bn ? bn->running_mean.value() : Tensor());
    running_vars.push_back(bn ? bn->running_var.value() : Tensor());
    AN_CHECK(!bn || (bn->training() == p.bn.training && bn->momentum == p.bn.momentum &&
                     bn->eps == p.bn.eps))
        << "mixed op '" << op_name << "': batch norm '" << bn->name() << "' differs from '"
        << first.name() << "' in mode, momentum or eps; the fused sum needs them equal";
  }
  return bn_mixed_sum(weights, xs, running_means, running_vars, p);
}

}  // namespace

void SearchConfig::validate() const {
  AN_CHECK(channels > 0) << "search config: channels must be positive, got " << channels;
  AN_CHECK(layers > 0) << "search config: layers must be positive, got " << layers;
  AN_CHECK(nodes > 0) << "search config: nodes must be positive, got " << nodes;
  AN_CHECK(multiplier > 0 && multiplier <= nodes)
      << "search config: multiplier must be in [1, nodes = " << nodes << "], got " << multiplier;
  AN_CHECK(stem_multiplier > 0) << "search config: stem_multiplier must be positive";
  AN_CHECK(classes > 0) << "search config: classes must be positive, got " << classes;
  AN_CHECK(input_channels > 0) << "search config: input_channels must be positive";
  AN_CHECK(partial_channels >= 1 && channels % partial_channels == 0)
      << "search config: channels (" << channels << ") must be divisible by partial_channels ("
      << partial_channels << ")";
}

MixedOp::MixedOp(ParameterStore& store, std::string name, int64_t channels, int64_t stride)
    : Module(std::move(name)) {
  const std::vector<std::string>& primitives = cnn_primitives();
  AN_CHECK(primitives.at(kNoneColumn) == "none") << "the mixed op expects `none` in column 0";
  for (size_t k = 0; k < primitives.size(); ++k) {
    ops_.push_back(make_op(store, child_name("_ops." + std::to_string(k)), primitives[k],
                           channels, stride, OpContext::search));
    register_child(*ops_.back());
  }
}

void MixedOp::append_staged_ops(std::vector<StartsWithStencil*>& ops) const {
  if (!group_state_ops_) return;
  for (size_t k = 0; k < ops_.size(); ++k) {
    auto* starts = dynamic_cast<StartsWithStencil*>(ops_[k].get());
    if (k != kNoneColumn && starts) ops.push_back(starts);
  }
}

Variable MixedOp::forward(const Variable& x, const Variable& weights) {
  std::vector<StartsWithStencil*> staged_ops;
  append_staged_ops(staged_ops);
  return forward_from_staged(x, weights, run_state_pipeline(x, staged_ops, training()));
}

Variable MixedOp::forward_from_staged(const Variable& x, const Variable& weights,
                                      const std::vector<Variable>& staged) {
  AN_CHECK(weights.dim() == 1 && weights.size(0) == static_cast<int64_t>(ops_.size()) - 1)
      << "mixed op '" << name() << "' expects " << ops_.size() - 1
      << " weights (its softmax row without `none`), got " << weights.value().describe();
  std::vector<Variable> candidates;
  std::vector<BatchNorm2d*> norms;  // per candidate: the BN folded into the sum, or null
  append_candidates(x, staged, candidates, norms);
  return folded_mixed_sum(name(), weights, candidates, norms);
}

void MixedOp::append_candidates(const Variable& x, const std::vector<Variable>& staged,
                                std::vector<Variable>& candidates,
                                std::vector<BatchNorm2d*>& norms) {
  size_t next_staged = 0;
  for (size_t k = 0; k < ops_.size(); ++k) {
    if (k == kNoneColumn) continue;
    auto* ends = dynamic_cast<EndsInBatchNorm*>(ops_[k].get());
    const bool fold = fold_batch_norms_ && ends && !ends->last_batch_norm().weight.defined();
    const bool is_staged = group_state_ops_ && dynamic_cast<StartsWithStencil*>(ops_[k].get());
    if (is_staged) {
      // The pipeline stops before the closing BN, which every staged candidate has.
      AN_CHECK(ends) << "mixed op '" << name() << "': candidate " << k
                     << " starts with a stencil but does not end in a batch norm";
      const Variable& y = staged.at(next_staged++);
      candidates.push_back(fold ? y : ends->last_batch_norm().forward(y));
    } else {
      candidates.push_back(fold ? ends->forward_to_batch_norm(x) : ops_[k]->forward(x));
    }
    norms.push_back(fold ? &ends->last_batch_norm() : nullptr);
  }
}

SearchCell::SearchCell(ParameterStore& store, std::string name, int nodes, int multiplier,
                       int64_t c_pp, int64_t c_p, int64_t channels, bool reduction,
                       bool reduction_prev, int64_t partial_channels)
    : CnnCell(store, std::move(name), c_pp, c_p, channels, reduction_prev, OpContext::search),
      nodes_(nodes),
      multiplier_(multiplier),
      channels_(channels),
      reduction_(reduction),
      edges_(search_cell_edges(nodes, reduction)) {
  for (size_t e = 0; e < edges_.size(); ++e) {
    const std::string op_name = child_name("_ops." + std::to_string(e));
    if (partial_channels > 1)
      ops_.push_back(std::make_unique<PartialMixedOp>(store, op_name, channels, edges_[e].stride,
                                                      partial_channels));
    else
      ops_.push_back(std::make_unique<MixedOp>(store, op_name, channels, edges_[e].stride));
    register_child(*ops_.back());
  }
}

void SearchCell::open_state(const std::vector<Variable>& states, size_t state,
                            std::vector<std::vector<Variable>>& staged) const {
  std::vector<std::pair<size_t, size_t>> edge_ops;  // edge leaving `state`, its staged ops
  std::vector<StartsWithStencil*> ops;
  for (size_t e = 0; e < edges_.size(); ++e) {
    if (static_cast<size_t>(edges_[e].input) != state || !ops_[e]->joins_state_pipeline())
      continue;
    const size_t before = ops.size();
    ops_[e]->append_staged_ops(ops);
    edge_ops.emplace_back(e, ops.size() - before);
  }
  if (ops.empty()) return;
  const std::vector<Variable> outputs = run_state_pipeline(states[state], ops, training());
  auto next = outputs.begin();
  for (auto [e, count] : edge_ops) {
    staged[e].assign(next, next + static_cast<std::ptrdiff_t>(count));
    next += static_cast<std::ptrdiff_t>(count);
  }
}

Variable SearchCell::sum_node(int i, size_t first, const std::vector<Variable>& states,
                             const std::vector<std::vector<Variable>>& staged,
                             MixedWeights& weights,
                             const std::vector<Variable>& node_weights) const {
  const size_t end = first + 2 + static_cast<size_t>(i);
  bool as_one = node_weights.empty();
  for (size_t e = first; e < end; ++e) as_one = as_one && ops_[e]->sums_with_node();
  auto input = [&](size_t e) -> const Variable& { return states[edges_[e].input]; };
  if (as_one) {
    std::vector<Variable> candidates;
    std::vector<BatchNorm2d*> norms;
    for (size_t e = first; e < end; ++e)
      ops_[e]->append_candidates(input(e), staged[e], candidates, norms);
    return folded_mixed_sum(name() + " node " + std::to_string(i),
                            weights.edges(first, end - first), candidates, norms);
  }
  std::vector<Variable> inputs;
  for (size_t e = first; e < end; ++e)
    inputs.push_back(ops_[e]->joins_state_pipeline()
                         ? ops_[e]->forward_from_staged(input(e), weights.edge(e), staged[e])
                         : ops_[e]->forward(input(e), weights.edge(e)));
  return node_weights.empty() ? sum_all(inputs) : mixed_sum(node_weights[i], inputs);
}

void SearchCell::set_group_state_ops(bool group) {
  group_preprocessing_ = group;
  for (const auto& op : ops_) op->set_group_state_ops(group);
}

Variable SearchCell::forward(const Variable& s0, const Variable& s1, MixedWeights& weights,
                             const std::vector<Variable>& node_weights) {
  AN_CHECK(node_weights.empty() || node_weights.size() == static_cast<size_t>(nodes_))
      << "cell '" << name() << "' has " << nodes_ << " nodes, got " << node_weights.size()
      << " edge-normalisation rows";
  std::vector<Variable> states = preprocess(s0, s1, group_preprocessing_);
  std::vector<std::vector<Variable>> staged(edges_.size());  // per edge in its input's pipeline
  {
    // The two inputs' pipelines are independent until node 0 sums them: on a GPU the second
    // runs on the side stream beside the first, joined at the scope's end (side_stream.h).
    SideStreamScope side_streams(s1.device());
    {
      OnSideStream beside(s1.device());
      open_state(states, 1, staged);
    }
    open_state(states, 0, staged);
  }
  size_t first = 0;  // node i's edges are [first, first + 2 + i)
  for (int i = 0; i < nodes_; ++i) {
    states.push_back(sum_node(i, first, states, staged, weights, node_weights));
    first += 2 + static_cast<size_t>(i);
    open_state(states, states.size() - 1, staged);
  }
  return concat(std::vector<Variable>(states.end() - multiplier_, states.end()), 1);
}

SearchNetwork::SearchNetwork(const SearchConfig& config, ParameterStore& weights,
                             ParameterStore& alphas)
    : Module(""), config_(config), weights_(weights), alphas_(alphas) {
  config_.validate();
  AN_CHECK(&weights != &alphas) << "α needs its own parameter store (its own flat buffers)";
  const int64_t before = weights.num_parameters();

  int64_t c_curr = config_.stem_multiplier * config_.channels;
  stem_ = std::make_unique<NetworkStem>(weights, config_.input_channels, c_curr,
                                        config_.imagenet_stem);
  register_child(*stem_);

  int64_t c_pp = c_curr, c_p = c_curr;
  c_curr = config_.channels;
  bool reduction_prev = stem_->imagenet();
  for (int64_t i = 0; i < config_.layers; ++i) {
    const bool reduction = is_reduction_cell(i, config_.layers);
    if (reduction) c_curr *= 2;
    cells_.push_back(std::make_unique<SearchCell>(
        weights, "cells." + std::to_string(i), config_.nodes, config_.multiplier, c_pp, c_p,
        c_curr, reduction, reduction_prev, config_.partial_channels));
    register_child(*cells_.back());
    cells_.back()->set_group_state_ops(config_.group_state_ops);
    for (size_t e = 0; e < cells_.back()->edges().size(); ++e)
      cells_.back()->edge(e).set_fold_batch_norms(config_.fold_batch_norms);
    reduction_prev = reduction;
    c_pp = c_p;
    c_p = cells_.back()->out_channels();
  }
  classifier_ = std::make_unique<Linear>(weights, "classifier", c_p, config_.classes);
  register_child(*classifier_);
  parameter_count_ = weights.num_parameters() - before;

  const Shape alpha_shape{search_edge_count(config_.nodes),
                          static_cast<int64_t>(cnn_primitives().size())};
  alpha_normal_ = alphas.add_parameter("alphas_normal", alpha_shape, Init::normal(0.0, 1e-3));
  alpha_reduce_ = alphas.add_parameter("alphas_reduce", alpha_shape, Init::normal(0.0, 1e-3));
  if (config_.edge_normalization) {
    const Shape beta_shape{search_edge_count(config_.nodes)};
    beta_normal_ = alphas.add_parameter("betas_normal", beta_shape, Init::normal(0.0, 1e-3));
    beta_reduce_ = alphas.add_parameter("betas_reduce", beta_shape, Init::normal(0.0, 1e-3));
  }
}

Variable SearchNetwork::forward(const Variable& x) {
  AN_CHECK(x.dim() == 4 && x.size(1) == config_.input_channels)
      << "search network expects [N, " << config_.input_channels << ", H, W], got "
      << x.value().describe();
  const KeepValuesGuard keep_values(!config_.recompute_cheap_ops);
  MixedWeights normal(alpha_normal_), reduce(alpha_reduce_);
  std::vector<Variable> normal_nodes, reduce_nodes;  // empty: nodes sum their edges plainly
  if (config_.edge_normalization) {
    normal_nodes = edge_normalization_weights(beta_normal_, config_.nodes);
    reduce_nodes = edge_normalization_weights(beta_reduce_, config_.nodes);
  }
  auto [s0, s1] = stem_->forward_both(x);
  for (const auto& cell : cells_) {
    Variable s2 = cell->reduction() ? cell->forward(s0, s1, reduce, reduce_nodes)
                                    : cell->forward(s0, s1, normal, normal_nodes);
    s0 = s1;
    s1 = s2;
  }
  return classifier_->forward(global_avg_pool(s1));
}

std::vector<std::vector<double>> SearchNetwork::normal_weights() const {
  return host_softmax_rows(alpha_normal_);
}

std::vector<std::vector<double>> SearchNetwork::reduce_weights() const {
  return host_softmax_rows(alpha_reduce_);
}

CnnGenotype SearchNetwork::genotype() const {
  if (!config_.edge_normalization)
    return derive_cnn_genotype(normal_weights(), reduce_weights(), config_.nodes,
                               config_.multiplier);
  return derive_cnn_genotype(
      edge_weighted_rows(normal_weights(), host_edge_normalization(beta_normal_, config_.nodes)),
      edge_weighted_rows(reduce_weights(), host_edge_normalization(beta_reduce_, config_.nodes)),
      config_.nodes, config_.multiplier);
}

}  // namespace autonet::darts
