// The DARTS search network (reference darts.md §2): mixed ops on every edge of a cell, cells
// stacked with reductions at ⌊L/3⌋ and ⌊2L/3⌋, and the architecture parameters α.
//
//   ParameterStore weights(seed), alphas(seed + 1);
//   SearchNetwork net(SearchConfig{}, weights, alphas);
//   Variable logits = net.forward(x);          // x [N, input_channels, H, W] → [N, classes]
//   backward(cross_entropy(logits, y));        // grads land in weights.grads(), alphas.grads()
//   CnnGenotype g = net.genotype();
//
// Parameter names follow model_search.py: `stem.0.weight` (with the ImageNet stem
// model_search_imagenet.py's `stem0.0.weight`, ..., `stem1.2.bias`), `cells.3.preprocess0.conv_1.weight`,
// `cells.0._ops.4._ops.4.op.1.weight` (cell 0, edge 4, primitive 4 = sep_conv_3x3, first
// depthwise conv), `classifier.weight`. α lives in its own store as `alphas_normal` and
// `alphas_reduce` (edges × primitives), never among the weights.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/modules.h"
#include "darts/cnn/cell_layout.h"
#include "darts/cnn/cnn_cell.h"
#include "darts/cnn/imagenet_model.h"
#include "darts/genotype/genotype.h"

namespace autonet::darts {

struct SearchConfig {
  int64_t channels = 16;        // C: channels per node in the first cells
  int64_t layers = 8;           // L: cells
  int nodes = 4;                // intermediate nodes per cell (`steps`)
  int multiplier = 4;           // last nodes concatenated into the cell output
  int64_t stem_multiplier = 3;  // stem outputs stem_multiplier · C channels
  int64_t classes = 10;
  int64_t input_channels = 3;   // 3 for CIFAR-10, 1 for (Fashion-)MNIST
  // PC-DARTS (darts/cnn/pc_search_model.h): 1/partial_channels of each edge's channels go through
  // its mixed op (1: all, as DARTS); edge_normalization weighs a node's edges by softmax(β).
  int64_t partial_channels = 1;
  bool edge_normalization = false;
  // The stem of the official ImageNet search (model_search_imagenet.py): three stride-2 convs
  // (darts/cnn/imagenet_model.h's NetworkStem at stem_multiplier · C channels), the cells at 1/8
  // of the input's size, the first taking stem0's output as from a reduction. For large inputs.
  bool imagenet_stem = false;
  // Mixed ops fold their candidates' closing batch norms into the weighted sum (one fused op,
  // kernels/bn_mixed_sum.h). false: each BN runs alone, the reference the fused step is tested
  // against (equal up to rounding).
  bool fold_batch_norms = true;
  // Backward rebuilds the pools' and depthwise convolutions' outputs from their inputs instead of
  // keeping them (autograd/variable.h's SavedValue): less memory at the peak for a few more
  // launches. false keeps them, as before (the same gradients, bit for bit).
  bool recompute_cheap_ops = true;
  // The candidates of all edges leaving one state run layer by layer, each layer one group op
  // (darts/cnn/state_pipeline.h: the first stencils on the state, then the 1×1 convs, middle BNs
  // and second depthwise convs of the sep/dil convs; a PC-DARTS edge groups its own, on its
  // channel part); a cell's two ReLUConvBN preprocessings on inputs of one shape run as one
  // pointwise and one batch-norm group. false: each op runs its own layers, the reference the
  // grouped step is tested against (equal up to rounding).
  bool group_state_ops = true;
  void validate() const;        // throws naming the bad field
};

// Σ_k w_k · op_k(x) over the primitives (cnn_primitives() order). `none` is built (it owns its
// index) but never run: its term is exactly zero, so it only enters through the softmax. The
// affine-free batch norms that close candidates (EndsInBatchNorm) are folded into the sum.
class MixedOp : public Module {
 public:
  MixedOp(ParameterStore& store, std::string name, int64_t channels, int64_t stride);
  // weights [K−1]: one softmax row of α without its `none` column.
  virtual Variable forward(const Variable& x, const Variable& weights);
  // Whether the cell may run this op's candidates in the pipeline of the state it reads, with the
  // other edges leaving that state (x is then the op's own input; a PC-DARTS op runs its
  // candidates on a part of it).
  virtual bool joins_state_pipeline() const { return group_state_ops_; }
  // Whether a node may sum this op's candidates together with its other edges' as one fused op
  // (its candidates' BNs folded into that sum; a PC-DARTS op shuffles its output first).
  virtual bool sums_with_node() const { return fold_batch_norms_; }
  // The candidates a state pipeline runs (those that start with a stencil), in candidate order,
  // appended; none when the state's ops are not grouped.
  void append_staged_ops(std::vector<StartsWithStencil*>& ops) const;
  // forward() given the pipeline's outputs for those candidates on x, in the same order.
  Variable forward_from_staged(const Variable& x, const Variable& weights,
                               const std::vector<Variable>& staged);
  // What forward() sums, appended: each candidate's output on x (from `staged` as above), in
  // candidate order without `none`, with the BN folded into the sum (null: summed as it is).
  void append_candidates(const Variable& x, const std::vector<Variable>& staged,
                         std::vector<Variable>& candidates, std::vector<BatchNorm2d*>& norms);
  Module& op(size_t k) const { return *ops_.at(k); }  // k in primitive order
  size_t size() const { return ops_.size(); }
  void set_fold_batch_norms(bool fold) { fold_batch_norms_ = fold; }  // SearchConfig's switches
  void set_group_state_ops(bool group) { group_state_ops_ = group; }

 private:
  std::vector<std::unique_ptr<Module>> ops_;
  bool fold_batch_norms_ = true;
  bool group_state_ops_ = true;
};

// softmax(α) [E, K] of one cell type, taken once per forward, and the parts of it the mixed sums
// take, each cut once on first use and always without the `none` column: one edge's row (what
// MixedOp::forward takes) or a node's consecutive rows as one vector (a node summing all its
// edges' candidates in one op). Differentiable (softmax → slices).
class MixedWeights {
 public:
  explicit MixedWeights(const Variable& alpha);
  const Variable& edge(int64_t e) { return edges(e, 1); }  // [K−1]
  const Variable& edges(int64_t first, int64_t count);      // [count·(K−1)], edge-major

 private:
  Variable softmax_;  // [1, 1, E, K]
  std::map<std::pair<int64_t, int64_t>, Variable> cut_;
};

// Every edge's row (MixedWeights::edge), in edge order.
std::vector<Variable> mixed_op_weights(const Variable& alpha);

class SearchCell : public CnnCell {
 public:
  SearchCell(ParameterStore& store, std::string name, int nodes, int multiplier, int64_t c_pp,
             int64_t c_p, int64_t channels, bool reduction, bool reduction_prev,
             int64_t partial_channels = 1);
  // s0: output of cell k−2, s1: of cell k−1; weights: softmax(α) of this cell type.
  // node_weights[i] (PC-DARTS edge normalisation, may be empty): node i's [2 + i] edge weights.
  Variable forward(const Variable& s0, const Variable& s1, MixedWeights& weights,
                   const std::vector<Variable>& node_weights = {});
  bool reduction() const { return reduction_; }
  const std::vector<CellEdge>& edges() const { return edges_; }
  MixedOp& edge(size_t e) const { return *ops_.at(e); }
  int64_t out_channels() const { return multiplier_ * channels_; }
  // SearchConfig::group_state_ops for the cell's preprocessing and every edge.
  void set_group_state_ops(bool group);

 private:
  // Runs the pipeline of states[state] for the edges leaving it that join one, into staged[e] of
  // each such edge e.
  void open_state(const std::vector<Variable>& states, size_t state,
                  std::vector<std::vector<Variable>>& staged) const;
  // Node i's state from its edges [first, first + 2 + i): one fused sum of all their candidates
  // when every edge allows it (MixedOp::sums_with_node) and no edge normalisation weighs them,
  // else each edge's mixed op summed.
  Variable sum_node(int i, size_t first, const std::vector<Variable>& states,
                    const std::vector<std::vector<Variable>>& staged, MixedWeights& weights,
                    const std::vector<Variable>& node_weights) const;

  int nodes_, multiplier_;
  int64_t channels_;
  bool reduction_;
  bool group_preprocessing_ = true;
  std::vector<CellEdge> edges_;
  std::vector<std::unique_ptr<MixedOp>> ops_;
};

class SearchNetwork : public Module {
 public:
  // Registers the weights in `weights` and α_normal/α_reduce (1e-3·N(0, 1) from the store's
  // seed) in `alphas`, then β_normal/β_reduce the same way with edge normalisation; the two
  // stores must be distinct.
  SearchNetwork(const SearchConfig& config, ParameterStore& weights, ParameterStore& alphas);

  // x [N, input_channels, H, W] → logits [N, classes]. softmax(α) is taken once per call.
  Variable forward(const Variable& x) override;

  const Variable& alpha_normal() const { return alpha_normal_; }  // [edges, primitives]
  const Variable& alpha_reduce() const { return alpha_reduce_; }
  std::vector<Variable> alphas() const { return {alpha_normal_, alpha_reduce_}; }
  // [edges] with edge normalisation, else undefined.
  const Variable& beta_normal() const { return beta_normal_; }
  const Variable& beta_reduce() const { return beta_reduce_; }
  // Row-wise softmax of α on the host, rows in edge order: what derivation and logs read.
  std::vector<std::vector<double>> normal_weights() const;
  std::vector<std::vector<double>> reduce_weights() const;
  // The discrete architecture by the official rule (reference §4.1); with edge normalisation
  // the rows are first weighted by their edge's softmax(β), as PC-DARTS's genotype().
  CnnGenotype genotype() const;

  // Weights registered by this network (α excluded): 1,930,618 for the defaults, 299,578 with
  // PC-DARTS's partial_channels = 4.
  int64_t parameter_count() const { return parameter_count_; }
  const SearchConfig& config() const { return config_; }
  size_t num_cells() const { return cells_.size(); }
  SearchCell& cell(size_t i) const { return *cells_.at(i); }
  ParameterStore& weight_store() const { return weights_; }
  ParameterStore& alpha_store() const { return alphas_; }

 private:
  SearchConfig config_;
  ParameterStore& weights_;
  ParameterStore& alphas_;
  std::unique_ptr<NetworkStem> stem_;
  std::vector<std::unique_ptr<SearchCell>> cells_;
  std::unique_ptr<Linear> classifier_;
  Variable alpha_normal_, alpha_reduce_;
  Variable beta_normal_, beta_reduce_;
  int64_t parameter_count_ = 0;
};

}  // namespace autonet::darts
