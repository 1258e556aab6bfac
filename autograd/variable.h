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

#include "kernels/dispatch.h"  // GradMode
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
  // grad is borrowed (a consumer's dL/d(output), shared with other slots): read it, never add
  // into it; the first addition makes a private copy. Only intermediate slots borrow.
  bool grad_is_borrowed = false;
  bool target_open = false;        // a GradTarget is adding into grad in place right now
  // Side-stream work may still be adding into grad (runtime/side_stream.h): the compute stream
  // waits for it before it lands or reads anything there.
  bool grad_on_side_stream = false;
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

// Rebuilds an op's output, bit for bit, from what the op's own node keeps anyway (its inputs):
// cheap ops (pools, depthwise convolutions) hand one to make_result, and a consumer that needs
// the output in its backward keeps the recipe instead of the tensor (SavedValue), so the tensor
// dies with the forward pass and is rebuilt when backward needs it (DESIGN.md §7).
using Recompute = std::function<Tensor()>;
// An output of a group that rebuilds several outputs in one launch (rebuild_together) also says
// who still wants it: a SavedValue that keeps the recipe holds what `claim` returns until it dies,
// and the group rebuilds only the outputs some SavedValue still holds a claim on.
using Claim = std::function<std::shared_ptr<const void>()>;
struct GroupRecipe {
  Recompute rebuild;
  Claim claim;
};

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

  // The value's per-channel moment parts (kernels/channel_moments.h) when its producer formed
  // them on the way out, else undefined: a batch norm reading this variable takes its statistics
  // from them instead of reading the value again.
  const Tensor& channel_moments() const { return impl_->moments; }
  void set_channel_moments(Tensor moments) { impl_->moments = std::move(moments); }

  const Shape& shape() const { return value().shape(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t dim() const { return value().dim(); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }

 private:
  friend class SavedValue;
  friend Variable make_result(const char*, Tensor, const std::vector<Variable>&, BackwardFn,
                              Recompute);
  friend void attach_recompute(Variable& out, Recompute recompute, Claim claim);
  struct Impl {
    Tensor value;
    std::shared_ptr<GradSlot> slot;
    std::shared_ptr<const Recompute> recompute;  // set by a cheap producer (make_result)
    Claim claim;                                 // set with a group's recipe (make_results)
    Tensor moments;                              // channel_moments()
  };
  std::shared_ptr<Impl> impl_;
};

// Sets one of this thread's switches for the guard's scope, then restores what it was: what the
// guards below share.
class ScopedThreadFlag {
 public:
  ScopedThreadFlag(const ScopedThreadFlag&) = delete;
  ScopedThreadFlag& operator=(const ScopedThreadFlag&) = delete;

 protected:
  ScopedThreadFlag(bool& flag, bool value) : flag_(flag), previous_(flag) { flag_ = value; }
  ~ScopedThreadFlag() { flag_ = previous_; }

 private:
  bool& flag_;
  bool previous_;
};

// Gradient recording is on by default; NoGradGuard turns it off for its scope on this thread
// (evaluation, the architect's weight perturbations).
bool grad_enabled();
class NoGradGuard : public ScopedThreadFlag {
 public:
  NoGradGuard();
};

// Whether an op on these inputs must be recorded: recording is on and some input needs a gradient.
bool needs_grad(std::initializer_list<const Variable*> inputs);
bool needs_grad(const std::vector<Variable>& inputs);

// Wraps an op's output: records `node_backward` over `inputs` when needs_grad, else a plain value.
// `backward_fn` is only built into a node, so it may capture freely. The output's storage is
// labelled `op` for a memory census (runtime/memory_census.h). `recompute`, if given, is attached
// to the output while recording is on (see SavedValue).
Variable make_result(const char* op, Tensor value, const std::vector<Variable>& inputs,
                     BackwardFn backward_fn, Recompute recompute = nullptr);

// What a backward closure keeps of a variable's value: the tensor itself, or, when the variable's
// producer can rebuild it (make_result's `recompute`), the recipe. The recipe holds only the
// producer's inputs, which its node keeps anyway, so keeping it costs no memory; get() then runs
// the producer's forward kernel once more. Ops keep their inputs this way where backward needs
// their values (the 1×1 convolution's input for its weight gradient, the mixed sums' candidates).
class SavedValue {
 public:
  SavedValue() = default;
  explicit SavedValue(const Variable& v);
  Tensor get() const;  // the value, rebuilt if it was not kept
  const TensorSpec& spec() const { return spec_; }
  bool kept() const { return value_.defined(); }  // false: get() rebuilds it

 private:
  Tensor value_;
  std::shared_ptr<const Recompute> recompute_;
  std::shared_ptr<const void> claim_;  // held while this value may still be asked for
  TensorSpec spec_;
};

// Whether SavedValue may rebuild on this thread (no KeepValuesGuard alive).
bool rebuilding_values();

// The reference path for tests and the memory-for-speed switch: while alive on this thread, a
// SavedValue keeps the tensor even where it could rebuild it (how values were kept before).
class KeepValuesGuard : public ScopedThreadFlag {
 public:
  explicit KeepValuesGuard(bool active = true);  // false: changes nothing
};

// An op with several outputs: its backward runs once, after every output's gradient is known,
// with dL/d(output k) in grad_outputs[k] (undefined for an output that received none).
using MultiBackwardFn =
    std::function<void(const std::vector<Tensor>& grad_outputs, const SlotList& in)>;
// `recipes` (empty, or one per output, from rebuild_together) are attached as make_result's is.
// `depends_on` (empty, or one list per output): the inputs each output is computed from, by index;
// an output none of whose inputs needs a gradient needs none either, and gets none (a group op's
// members are separate ops: one member on a constant input is not swept for another's sake).
using InputsOf = std::vector<std::vector<size_t>>;
std::vector<Variable> make_results(const char* op, std::vector<Tensor> values,
                                   const std::vector<Variable>& inputs, MultiBackwardFn backward_fn,
                                   std::vector<GroupRecipe> recipes = {}, InputsOf depends_on = {});
// For a group op of K members whose inputs are listed per kind (K inputs, then K weights, ...):
// output k depends on inputs k, K + k, 2K + k, ... (`kinds` lists in all), and on each of the
// `shared` inputs given first (a stencil group's one x).
InputsOf member_inputs(size_t members, size_t kinds, size_t shared = 0);

// The recipes of a multi-output op whose kernel rebuilds several outputs in one launch: the first
// output asked for runs `rebuild(wanted)` once, wanted[k] true for itself and for every output
// that some SavedValue still claims; the others wait in a shared cache until asked (each handed
// out once, then dropped; one asked again, or one nobody claimed, rebuilds again). A group's
// outputs are asked for together (the next stage of a state's candidates is one op), so one
// launch replaces one per output; and outputs no backward will read (a 1×1 convolution's input
// when its weight needs no gradient, as in the α pass) are not rebuilt at all. `rebuild` returns
// one tensor per output, undefined where not wanted.
using RebuildSome = std::function<std::vector<Tensor>(const std::vector<bool>& wanted)>;
std::vector<GroupRecipe> rebuild_together(size_t count, RebuildSome rebuild);

// Runs the reverse sweep from `root`. A scalar root is seeded with 1; otherwise pass
// `grad_root` (dL/d root, same shape). Leaf gradients accumulate; intermediate gradients are
// dropped once used (unless retain_grad). Unless `retain_graph`, each node's closure is freed
// after it ran, so the graph cannot be swept twice by accident.
void backward(const Variable& root, const Tensor& grad_root = Tensor(), bool retain_graph = false);

// ---------------------------------------------------------------------------------------------
// How one gradient contribution lands in an input's gradient. The first contribution becomes the
// gradient; later ones are added in by the kernel that produces them (GradMode::Accumulate), so
// a state feeding several ops costs no extra pass over its gradient. Where that is impossible (a
// kernel that can only write, a borrowed gradient, two targets of one slot in one kernel call) the
// contribution is written to its own tensor and added with axpby: same values, bit for bit, since
// both compute old + new once rounded.

// Which stream a gradient's kernel runs on (runtime/side_stream.h). The side stream is for
// parameters' gradients (weight gradients), which nothing reads before the sweep ends; a slot
// landed there is marked, and a later landing or read on the compute stream waits for it first.
enum class LandsOn { compute_stream, side_stream };

// Adds alpha·g into slot's grad. A first contribution with alpha = 1 to an intermediate slot is
// borrowed, not copied (a sum's inputs all receive the sum's dL/dy).
void accumulate_grad(GradSlot& slot, const Tensor& g, double alpha = 1.0);

// Where a backward kernel puts one input gradient: `tensor` and the `mode` to run the kernel in
// (Accumulate: into the slot's existing gradient, in place), then finish() lands it. `tensor` is
// undefined (the kernel skips it) when the slot needs no gradient. `can_accumulate = false` for
// kernels that only write: they always get a tensor of their own (mode Write).
class GradTarget {
 public:
  GradTarget(GradSlot& slot, const TensorSpec& spec, bool can_accumulate = false,
             LandsOn on = LandsOn::compute_stream);
  ~GradTarget();
  GradTarget(GradTarget&& other) noexcept;
  GradTarget(const GradTarget&) = delete;
  GradTarget& operator=(const GradTarget&) = delete;
  GradTarget& operator=(GradTarget&&) = delete;

  Tensor tensor;
  GradMode mode = GradMode::Write;
  void finish();

 private:
  GradSlot* slot_ = nullptr;
  LandsOn on_ = LandsOn::compute_stream;
};

// For kernels that ACCUMULATE (parameter gradients, an α row's dweights): the slot's grad,
// private to it, zero-initialised if new; undefined when the slot needs no grad.
Tensor accumulate_target(GradSlot& slot, const TensorSpec& spec,
                         LandsOn on = LandsOn::compute_stream);

// The reference path for tests: while alive on this thread, every contribution is written to its
// own tensor and added with axpby, and nothing is borrowed (how gradients landed before the
// kernels learned to accumulate).
class SeparateGradContributionsGuard : public ScopedThreadFlag {
 public:
  SeparateGradContributionsGuard();
};

}  // namespace autonet
