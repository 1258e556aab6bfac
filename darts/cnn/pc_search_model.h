// PC-DARTS (Xu et al., ICLR 2020; official code yuhuixu1993/PC-DARTS, model_search.py): the two
// changes to the DARTS supernet, switched on by SearchConfig::partial_channels and
// SearchConfig::edge_normalization (darts/cnn/search_model.h builds the network).
//
// Partial channels: an edge sends the first C/K of its input channels through the mixed op (whose
// candidates are built for C/K channels) and lets the other C − C/K bypass it — max-pooled 2×2 on
// a stride-2 edge of a reduction cell — then channel_shuffle(groups K) mixes the two halves.
//
// Edge normalisation: one β per edge; a node sums its incoming edges weighted by the softmax of
// its edges' β, and derivation ranks edges by softmax(β)·softmax(α) (the official genotype()).
// β lives beside α in the architecture store as `betas_normal` and `betas_reduce` [edges].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "darts/cnn/search_model.h"

namespace autonet::darts {

class PartialMixedOp : public MixedOp {
 public:
  // Candidates for channels / partial_channels channels; channels must be divisible by it.
  PartialMixedOp(ParameterStore& store, std::string name, int64_t channels, int64_t stride,
                 int64_t partial_channels);
  // x [N, channels, H, W] → [N, channels, H/stride, W/stride].
  Variable forward(const Variable& x, const Variable& weights) override;
  bool shares_input_stencils() const override { return false; }  // its ops see a channel part
  bool sums_with_node() const override { return false; }  // its output is a shuffle, not a sum

 private:
  int64_t channels_, stride_, partial_channels_;
};

// For each node of a cell with `nodes` nodes, softmax over its incoming edges' β: node i gets a
// [2 + i] variable, the weights mixed_sum takes for its edge outputs. β [edges], differentiable.
std::vector<Variable> edge_normalization_weights(const Variable& beta, int nodes);
// The same on the host, one value per edge in edge order (what derivation and logs read).
std::vector<double> host_edge_normalization(const Variable& beta, int nodes);

// Rows of softmax(α) each multiplied by its edge's normalised β: the matrix the official
// genotype() ranks edges and picks operations from.
std::vector<std::vector<double>> edge_weighted_rows(std::vector<std::vector<double>> alpha_rows,
                                                    const std::vector<double>& edge_weights);

}  // namespace autonet::darts
