// Recurrent DARTS (reference darts.md §7.1–§7.4): the language model around one DARTS cell, in
// its search form (α-weighted mixture of every activation on every edge) and its derived form
// (one activation and one predecessor per node, from a genotype).
//
//   ParameterStore weights(seed), alphas(seed + 1);
//   RnnModel model(RnnConfig{}, weights, alphas);          // search model
//   RnnForward f = model.run(input, hidden);               // input i64 [T, B], hidden [B, nhid]
//   RnnLoss loss = rnn_loss(f, targets, 0.0, 1e-3);         // NLL + TAR
//   backward(loss.total);                                   // grads in weights and alphas
//   hidden = f.hidden;                                      // detached: the next segment's start
//
// Per time step: [c₀ | h̃₀] = [x ⊙ m_x, h ⊙ m_h]·W0, s₀ = h + σ(c₀)·(tanh(h̃₀) − h) (the highway
// uses the unmasked h); node i mixes its predecessors through W_i (kernels/rnn_cell.h); the
// output and next hidden state is the mean of the 8 node states. The search cell applies one
// shared affine-free BatchNorm1d to s₀ and to every node.
//
// Dropouts, all from Philox streams keyed by RnnConfig::seed (the same masks on CPU and GPU):
// dropoute drops whole embedding rows; dropouti and dropout are locked over time; dropoutx and
// dropouth masks are drawn once per run() and reused at every step and (h) for every node.
//
// Parameter names follow rnn/model_search.py: encoder.weight (tied to the decoder, counted once),
// rnns.0._W0, rnns.0._Ws.0..7, decoder.bias; α is `weights` in its own store; the BN buffers are
// rnns.0.bn.running_mean/var.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/modules.h"
#include "darts/genotype/genotype.h"
#include "kernels/rnn_cell.h"
#include "runtime/philox.h"

namespace autonet::darts {

constexpr int kRnnNodes = 8;                                 // STEPS
constexpr int64_t kRnnEdges = kRnnNodes * (kRnnNodes + 1) / 2;  // 36 rows of α

struct RnnConfig {
  int64_t vocabulary = 10000;
  int64_t emsize = 300;  // = nhid: the decoder's weight is the embedding
  int64_t nhid = 300;
  double dropout = 0.75;   // locked, on the cell outputs
  double dropouth = 0.25;  // on h_{t−1} and every state fed to a W_i
  double dropoutx = 0.75;  // on x_t fed to W0
  double dropouti = 0.2;   // locked, on the embeddings
  double dropoute = 0.0;   // whole embedding rows (0.1 for a derived cell's training)
  double init_range = 0.04;
  uint64_t seed = 3;       // the dropout masks' Philox seed
  void validate() const;   // throws naming the bad field
};

struct RnnForward {
  Variable logits;      // [T·B, V]
  Variable raw_output;  // [T, B, nhid] cell outputs before the output dropout (TAR reads them)
  Variable output;      // [T, B, nhid] after it (AR reads them)
  Tensor hidden;        // [B, nhid] last state, detached
};

// Philox streams of the five dropouts (offsets are the model's RNG state for exact resume).
enum class RnnDropout { embedding, input, x, h, output };
constexpr int kRnnDropouts = 5;

class RnnModel : public Module {
 public:
  // Search model: registers α [36, 5] (1e-3·N(0, 1) from the store's seed) in `alphas`.
  RnnModel(const RnnConfig& config, ParameterStore& weights, ParameterStore& alphas);
  // Derived model for `genotype` (its node count, e.g. 11 for ENAS; concat from the genotype).
  RnnModel(const RnnConfig& config, ParameterStore& weights, const RnnGenotype& genotype);

  // input i64 [T, B] token ids, hidden [B, nhid] (zeros at the start of a stream).
  RnnForward run(const Tensor& input, const Tensor& hidden);
  Tensor initial_hidden(int64_t batch) const;  // zeros [B, nhid]

  bool is_search() const { return search_; }
  const Variable& alpha() const { return alpha_; }  // [36, 5]; undefined for a derived model
  // Row-wise softmax of α on the host (search only): what derivation and logs read.
  std::vector<std::vector<double>> alpha_weights() const;
  // Search: the genotype by the official rule (one predecessor per node); derived: its own.
  RnnGenotype genotype() const;

  // Trained weights, α excluded, tied weights once: 4,810,000 at size 300 on 10k words.
  int64_t parameter_count() const { return parameter_count_; }
  const RnnConfig& config() const { return config_; }
  ParameterStore& weight_store() const { return weights_; }

  // The dropout generators' offsets (checkpointed for exact resume).
  std::array<uint64_t, kRnnDropouts> rng_offsets() const;
  void set_rng_offsets(const std::array<uint64_t, kRnnDropouts>& offsets);
  // The key the next draw of `which` will use (tests rebuild the masks from it).
  PhiloxKey peek_key(RnnDropout which) const;
  // Anchors every dropout generator at its offset now (PhiloxGenerator::anchor), generator d
  // reading the rest of its offset from bases[d] when a draw runs: `bases` is device memory of
  // kRnnDropouts offsets on the model's device (a graph's, darts/rnn/captured_step.h).
  void anchor_rng(const uint64_t* bases);
  void unanchor_rng();

  // Pieces exposed for tests.
  const Variable& encoder_weight() const { return encoder_; }
  const Variable& w0() const { return w0_; }
  const Variable& w(int node) const { return ws_.at(node); }  // node 0..7 = W_1..W_8
  BatchNorm1d* batch_norm() const { return bn_.get(); }

 private:
  void build(ParameterStore& weights);
  Variable embed(const Tensor& input);
  // One time step of the cell; masks undefined in eval.
  Variable cell_step(const Variable& xw, const Variable& h, const PhiloxKey* h_mask,
                     const std::vector<Variable>& mix_weights);
  // The search cell's nodes from s₀: their states s₁..s₈ stacked [8, B, H].
  Variable search_nodes(const Variable& s0, const PhiloxKey* h_mask,
                        const std::vector<Variable>& mix_weights);

  RnnConfig config_;
  ParameterStore& weights_;
  bool search_;
  RnnGenotype genotype_;
  int nodes_ = kRnnNodes;  // a derived cell has as many nodes as its genotype
  Variable encoder_, w0_, decoder_bias_, alpha_;
  std::vector<Variable> ws_;
  std::unique_ptr<BatchNorm1d> bn_;
  std::vector<PhiloxGenerator> generators_;
  int64_t parameter_count_ = 0;
};

struct RnnLoss {
  Variable total;  // nll + ar_alpha·mean(output²) + tar_beta·mean((raw_{t+1} − raw_t)²)
  Variable nll;    // mean NLL over the T·B tokens
};
// targets i64 [T·B]. A penalty with weight 0 is left out of the graph.
RnnLoss rnn_loss(const RnnForward& f, const Tensor& targets, double ar_alpha, double tar_beta);

// x's rows [begin, end) along the leading axis, as a view (gradients flow back into them).
Variable leading_rows(const Variable& x, int64_t begin, int64_t end);

}  // namespace autonet::darts
