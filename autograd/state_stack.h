// A recurrent search cell's states stacked as they are formed. Node i of a DARTS search cell reads
// every state before it twice: stacked [i + 1, B, H] (its mix's input) and that stack under the
// locked dropout (its GEMM's input). Stacking them anew for every node copied Σ_J 3J = 108 states
// a step and kept 72 of them for backward; here each state is written once, with its dropout copy,
// into its row of two buffers, and a node's stacks are views of their leading rows: 3 copies a
// state, 2 kept. Values and gradients are stack_dropout's (or stack's) of the same states, bit for
// bit: a view's node routes its gradient to the states its rows hold, with the same kernels.
#pragma once
#include <vector>

#include "autograd/variable.h"
#include "kernels/dropout.h"

namespace autonet {

class StateStack {
 public:
  // Room for `capacity` states shaped like `like`. dropout.p > 0: each state pushed with its
  // dropout copy also gets one (the mask's index within a row, as in a whole stack of them, so
  // mask_period must be a row's size).
  StateStack(int64_t capacity, const Tensor& like, const DropoutParams& dropout);

  // Writes `state` into the next row (and its dropout copy, when kept and `with_dropout`: a state
  // no node reads need not have one).
  void push(const Variable& state, bool with_dropout = true);
  int64_t size() const { return std::ssize(states_); }

  // Rows [0, end) and their dropout copy: stack_dropout of the first `end` states (each pushed
  // with its copy).
  std::vector<Variable> leading_with_dropout(int64_t end) const;
  // Rows [begin, end): stack of those states.
  Variable rows(int64_t begin, int64_t end) const;

 private:
  Tensor rows_, dropped_;  // [capacity, S...]; dropped_ undefined without dropout
  DropoutParams dropout_;
  std::vector<Variable> states_;
  std::vector<bool> has_dropped_;
};

}  // namespace autonet
