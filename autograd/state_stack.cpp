#include "autograd/state_stack.h"

#include "autograd/function_util.h"
#include "kernels/concat.h"

namespace autonet {
using namespace detail;

namespace {

// A row's shape [1, S...] for states shaped S.
Shape row_shape(const Shape& state) {
  Shape row{1};
  row.insert(row.end(), state.begin(), state.end());
  return row;
}

// The node of rows [begin, end) (and their dropout copies, if `dropped` is defined): each state's
// gradient is its row of the stack's gradient plus, with a copy, dropout_backward of its row of
// the copy's, as stack_dropout's node forms it.
std::vector<Variable> rows_node(const Tensor& rows, const Tensor& dropped,
                                const std::vector<Variable>& states, int64_t begin, int64_t end,
                                const DropoutParams& dropout) {
  const std::vector<Variable> xs(states.begin() + begin, states.begin() + end);
  const std::vector<TensorSpec> specs(xs.size(), TensorSpec::of(xs[0].value()));
  const std::vector<Shape> part_shapes(xs.size(), row_shape(xs[0].shape()));
  std::vector<Tensor> values{rows.slice(0, begin, end)};
  if (dropped.defined()) values.push_back(dropped.slice(0, begin, end));
  const bool with_dropped = dropped.defined();
  return make_results(
      with_dropped ? "stack_dropout" : "stack", std::move(values), xs,
      [specs, part_shapes, dropout, with_dropped](const std::vector<Tensor>& dys,
                                                  const SlotList& in) {
        parts_grad(in, specs, part_shapes,
                   [&](std::vector<Tensor>& dxs, const std::vector<GradMode>& modes) {
                     if (with_dropped) {
                       stack_dropout_backward(dys[0], dys[1], dxs, modes, dropout);
                     } else {
                       concat_backward(dys[0], 0, dxs, modes);
                     }
                   });
      });
}

}  // namespace

StateStack::StateStack(int64_t capacity, const Tensor& like, const DropoutParams& dropout)
    : dropout_(dropout) {
  AN_CHECK(capacity >= 1 && like.defined()) << "StateStack: needs room for a state and its shape";
  AN_CHECK(dropout.p == 0 || dropout.mask_period == like.numel())
      << "StateStack: the locked dropout's period must be a state's size (" << like.numel()
      << "), got " << dropout.mask_period;
  Shape shape = row_shape(like.shape());
  shape[0] = capacity;
  rows_ = Tensor::empty(shape, like.dtype(), like.device());
  if (dropout.p > 0) dropped_ = Tensor::empty(shape, like.dtype(), like.device());
}

void StateStack::push(const Variable& state, bool with_dropout) {
  const int64_t j = size();
  AN_CHECK(j < rows_.size(0)) << "StateStack: full at " << j << " states";
  AN_CHECK(states_.empty() || state.shape() == states_[0].shape())
      << "StateStack: " << state.value().describe() << " and " << states_[0].value().describe()
      << " differ in shape";
  const Tensor part = state.value().view(row_shape(state.shape()));
  Tensor row = rows_.slice(0, j, j + 1);
  if (with_dropout && dropped_.defined()) {
    // The mask of row j's element i is the stack's at j·S + i: the same, its period being S.
    Tensor dropped_row = dropped_.slice(0, j, j + 1);
    stack_dropout_forward({part}, row, dropped_row, dropout_);
  } else {
    concat_forward({part}, 0, row);
  }
  states_.push_back(state);
  has_dropped_.push_back(with_dropout && dropped_.defined());
}

std::vector<Variable> StateStack::leading_with_dropout(int64_t end) const {
  AN_CHECK(dropped_.defined() && end >= 1 && end <= size())
      << "StateStack: rows [0, " << end << ") with their dropout copy, of " << size()
      << (dropped_.defined() ? " states" : " states kept without one");
  for (int64_t j = 0; j < end; ++j)
    AN_CHECK(has_dropped_[j]) << "StateStack: state " << j << " was pushed without its copy";
  return rows_node(rows_, dropped_, states_, 0, end, dropout_);
}

Variable StateStack::rows(int64_t begin, int64_t end) const {
  AN_CHECK(0 <= begin && begin < end && end <= size())
      << "StateStack: rows [" << begin << ", " << end << ") of " << size() << " states";
  return rows_node(rows_, Tensor(), states_, begin, end, dropout_)[0];
}

}  // namespace autonet
