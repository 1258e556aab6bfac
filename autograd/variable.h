// Define-by-run autograd (DESIGN.md §4): a Variable is a shared handle on a value tensor and its
// gradient; each differentiable op records a Node holding its inputs in order and a backward
// closure that keeps only what backward needs. backward(loss) sorts the recorded graph and runs
// the closures in reverse. No double backward: second-order DARTS uses finite differences.
//
// The tape holds the inputs' GradSlots (where gradients go), not their values, so a recorded graph
// keeps alive only the tensors its closures captured (relu keeps its output, not its input).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace autonet {

struct Node;

// The autograd half of a variable: what the tape needs to route a gradient into it.
struct GradSlot {
  Tensor grad;                     // undefined until the first contribution, or a flat-buffer view
  std::shared_ptr<Node> producer;  // null for leaves (inputs, parameters)
  bool requires_grad = false;
  bool retain_grad = false;        // keep an intermediate's grad after backward (tests, debugging)
  bool grad_is_view = false;       // grad lives in a flat buffer: zeroed, never replaced
};

// Shape, dtype and device of a tensor: enough to allocate its gradient without keeping it alive.
struct TensorSpec {
  Shape shape;
  DType dtype = DType::f32;
  Device device;
  static TensorSpec of(const Tensor& t) { return {t.shape(), t.dtype(), t.device()}; }
};

using SlotList = std::vector<std::shared_ptr<GradSlot>>;
// Receives dL/d(output) and the node's inputs; adds dL/d(input) into in[i]->grad for each input
// that requires a gradient.
using BackwardFn = std::function<void(const Tensor& grad_output, const SlotList& in)>;

// One recorded op.
struct Node {
  const char* op = "";
  SlotList inputs;  // in argument order; the same slot twice when a variable is used twice
  BackwardFn backward;
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // releases long chains iteratively, not by recursive shared_ptr destruction
};

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor value, bool requires_grad = false);
  // A leaf whose gradient accumulates into `grad` (a view into a flat gradient buffer).
  static Variable with_grad_view(Tensor value, Tensor grad);

  bool defined() const { return impl_ != nullptr; }
  // A handle: the referenced tensors are shared by all copies (the store rebinds them on to()).
  Tensor& value() const;
  Tensor& grad() const;  // undefined until backward reached this variable
  bool requires_grad() const { return slot().requires_grad; }
  bool is_leaf() const { return slot().producer == nullptr; }
  const std::shared_ptr<Node>& producer() const { return slot().producer; }
  const std::shared_ptr<GradSlot>& slot_ptr() const;
  GradSlot& slot() const { return *slot_ptr(); }

  void set_requires_grad(bool on);  // leaves only
  void retain_grad() { slot().retain_grad = true; }
  // Drops the gradient (a flat-buffer view is zeroed instead: it stays bound to its buffer).
  void clear_grad();
  // Same value, cut from the graph.
  Variable detach() const { return Variable(value()); }
  bool same(const Variable& other) const { return impl_ == other.impl_; }

  const Shape& shape() const { return value().shape(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t dim() const { return value().dim(); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }

 private:
  struct Impl {
    Tensor value;
    std::shared_ptr<GradSlot> slot;
  };
  std::shared_ptr<Impl> impl_;
};

// Gradient recording is on by default; NoGradGuard turns it off for its scope on this thread
// (evaluation, the architect's weight perturbations).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Whether an op on these inputs must be recorded: recording is on and some input needs a gradient.
bool needs_grad(std::initializer_list<const Variable*> inputs);
bool needs_grad(const std::vector<Variable>& inputs);

// Wraps an op's output: records `node_backward` over `inputs` when needs_grad, else a plain value.
// `backward_fn` is only built into a node, so it may capture freely.
Variable make_result(const char* op, Tensor value, const std::vector<Variable>& inputs,
                     BackwardFn backward_fn);

// Runs the reverse sweep from `root`. A scalar root is seeded with 1; otherwise pass
// `grad_root` (dL/d root, same shape). Leaf gradients accumulate; intermediate gradients are
// dropped once used (unless retain_grad). Unless `retain_graph`, each node's closure is freed
// after it ran, so the graph cannot be swept twice by accident.
void backward(const Variable& root, const Tensor& grad_root = Tensor(), bool retain_graph = false);

// ---------------------------------------------------------------------------------------------
// Helpers for backward closures: how one contribution lands in an input's gradient.

// Adds alpha·g into slot's grad (allocating it on the first contribution).
void accumulate_grad(GradSlot& slot, const Tensor& g, double alpha = 1.0);

// For kernels that WRITE their input gradient: the kernel writes `tensor`, then finish() makes it
// the slot's grad (first contribution) or adds it in. `tensor` is undefined (the kernel skips it)
// when the slot needs no gradient. Safe when one kernel call writes several targets of one slot.
class GradTarget {
 public:
  GradTarget(GradSlot& slot, const TensorSpec& spec);
  Tensor tensor;
  void finish();

 private:
  GradSlot* slot_ = nullptr;
};

// For kernels that ACCUMULATE (parameter gradients): the slot's grad, zero-initialised if new;
// undefined when the slot needs no grad.
Tensor accumulate_target(GradSlot& slot, const TensorSpec& spec);

}  // namespace autonet
