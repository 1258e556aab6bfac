// The recurrent step replayed from CUDA Graphs (runtime/cuda_graph.h): a search step (an α step,
// first or second order, then a weight step) or a training step (the weight step alone).
//
// An eager recurrent step launches thousands of small kernels (several per time step and node in
// every forward and backward), and on a GPU the host's cost per launch exceeds the kernels' own.
// Here the α pass (RnnArchitect::compute_gradient) and the weight pass (rnn_weight_pass) are
// captured and replayed; Adam on α, the clip and the weights' optimizer step (SGD, or averaged
// SGD in training) stay eager, so the optimizers' state, their switch and the lr need no
// re-capture. The kernels, their order and so every value are those of the eager step: a
// replayed step is bit-identical to it (tests/darts/rnn/test_captured_step.cpp).
//
// What changes between replays, and how it reaches the graphs:
//  - the segments: copied into the graphs' input tensors (tokens, targets, both hidden states);
//  - the dropout masks: the model's generators are anchored while a pass is captured
//    (RnnModel::anchor_rng), so each draw adds an offset read from the pass's device tensor,
//    written before every replay with the generators' offsets then; afterwards the generators
//    advance by what the capture drew, as an eager pass advances them;
//  - the sequence length: graphs per (train, validation) length — the search draws int(bptt) or
//    int(bptt / 2), a training run lengths around bptt from a normal distribution — each
//    captured on the second step of its length (the first runs eagerly and warms cuBLAS and the
//    allocator); all of them share one pool, as they never run at the same time;
//  - second order freezes η, the weights' lr (scaled by the length), into its α graph: captured
//    again if it changes.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "autograd/optimizer.h"
#include "darts/rnn/architect.h"
#include "darts/rnn/trainer.h"
#include "runtime/cuda_graph.h"

namespace autonet::darts {

class CapturedRnnStep {
 public:
  // The model lives on a CUDA device. A search: `alphas` holds its α, `architect` steps it; a
  // training run: both null.
  CapturedRnnStep(RnnModel& model, ParameterStore* alphas, RnnArchitect* architect,
                  double ar_alpha, double tar_beta, double grad_clip);

  struct Result {
    RnnArchStep arch;  // a search's α step (empty in training)
    RnnWeightStep weight;
  };
  // A search: RnnArchitect::step on (train, *valid), then rnn_weight_step on train with
  // `optimizer` (its SGD: a resumed run makes a new one). Training (valid null): the weight step
  // alone. The same values, left on the device (the graphs' outputs are rewritten by the next
  // replay of their length).
  Result step(Optimizer& optimizer, const RnnSegment& train, const RnnSegment* valid);
  // Lengths whose two passes are captured.
  size_t captured_lengths() const;
  // Device memory the graphs keep for their temporaries (0 before the first capture).
  size_t graph_pool_bytes() const;

 private:
  using Offsets = std::array<uint64_t, kRnnDropouts>;
  // One captured pass and what its dropout draws need.
  struct Pass {
    std::unique_ptr<CudaGraph> graph;
    Tensor bases;     // [kRnnDropouts] the generators' offsets at the start of each replay
    Offsets advance{};  // what one run of the pass moves the generators on by
  };
  // A length's graphs, their inputs (refilled before every replay) and outputs.
  struct Graphs {
    int steps = 0;  // steps of this length so far
    RnnSegment train, valid;
    Tensor bases;  // [2, kRnnDropouts]: both passes' offsets, written once a step
    Pass alpha, weight;
    double alpha_lr = 0;  // η frozen into the α graph
    RnnArchStep arch;
    RnnWeightPass pass;
  };

  void capture(Pass& pass, const std::function<void()>& work);
  // Writes both passes' start offsets (one upload a step), then replays them in order.
  void replay(Graphs& g);
  void capture_passes(Graphs& g, const Optimizer& optimizer, const RnnSegment& train,
                      const RnnSegment* valid);
  std::shared_ptr<CudaGraphPool> shared_pool() const;

  RnnModel& model_;
  ParameterStore* alphas_;
  RnnArchitect* architect_;
  double ar_alpha_, tar_beta_, grad_clip_;
  std::map<std::pair<int64_t, int64_t>, Graphs> by_length_;  // (train, validation) length
};

}  // namespace autonet::darts
