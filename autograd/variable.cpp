#include "autograd/variable.h"

#include <unordered_set>
#include <utility>

#include "kernels/elementwise.h"
#include "runtime/side_stream.h"

namespace autonet {

// ---------------------------------------------------------------------------------------------
// Variable

Variable::Variable(Tensor value, bool requires_grad) : impl_(std::make_shared<Impl>()) {
  AN_CHECK(value.defined()) << "Variable of an undefined tensor";
  AN_CHECK(!requires_grad || dtype_is_float(value.dtype()))
      << "only float tensors can require a gradient, got " << value.describe();
  impl_->value = std::move(value);
  impl_->slot = std::make_shared<GradSlot>();
  impl_->slot->requires_grad = requires_grad;
}

Variable Variable::with_grad_view(Tensor value, Tensor grad) {
  AN_CHECK(grad.defined() && grad.shape() == value.shape() && grad.dtype() == value.dtype() &&
           grad.device() == value.device())
      << "gradient view " << grad.describe() << " does not match value " << value.describe();
  Variable v(std::move(value), true);
  v.slot().grad = std::move(grad);
  v.slot().grad_is_view = true;
  return v;
}

const std::shared_ptr<GradSlot>& Variable::slot_ptr() const {
  AN_CHECK(impl_) << "use of an undefined Variable";
  return impl_->slot;
}

Tensor& Variable::value() const {
  AN_CHECK(impl_) << "use of an undefined Variable";
  return impl_->value;
}

Tensor& Variable::grad() const { return slot().grad; }

void Variable::set_requires_grad(bool on) {
  AN_CHECK(is_leaf()) << "set_requires_grad on a variable produced by " << producer()->op
                      << ": only leaves can change it";
  AN_CHECK(!on || dtype_is_float(dtype())) << "only float tensors can require a gradient";
  slot().requires_grad = on;
}

void Variable::clear_grad() {
  GradSlot& s = slot();
  if (!s.grad.defined()) return;
  if (s.grad_is_view) {
    fill(s.grad, 0.0);
  } else {
    s.grad = Tensor();
    s.grad_is_borrowed = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Node

// Dropping the last handle on a deep graph (an unrolled RNN, a 100k-op chain) would otherwise
// destroy node after node recursively and could overflow the stack: nodes that only this chain
// owns are detached and destroyed one at a time, each with no inputs left.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  auto detach_inputs = [&pending](SlotList& inputs) {
    for (auto& slot : inputs)
      if (slot.use_count() == 1 && slot->producer && slot->producer.use_count() == 1)
        pending.push_back(std::move(slot->producer));
    inputs.clear();
  };
  detach_inputs(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    detach_inputs(node->inputs);
  }  // `node` dies here with an empty input list
}

// ---------------------------------------------------------------------------------------------
// Recording

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : ScopedThreadFlag(t_grad_enabled, false) {}

bool needs_grad(std::initializer_list<const Variable*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Variable* v : inputs)
    if (v->defined() && v->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Variable& v : inputs)
    if (v.defined() && v.requires_grad()) return true;
  return false;
}

Variable make_result(const char* op, Tensor value, const std::vector<Variable>& inputs,
                     BackwardFn backward_fn, Recompute recompute) {
  if (value.defined()) value.storage()->label(op);
  if (!needs_grad(inputs)) {
    // Recording is on, so a recorded consumer may keep this output (a mixed sum's candidate
    // whose input needs no gradient): it rebuilds it too.
    Variable out(std::move(value));
    if (recompute && grad_enabled())
      out.impl_->recompute = std::make_shared<const Recompute>(std::move(recompute));
    return out;
  }
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  // An undefined optional input (a bias that is absent) gets a slot that never needs a gradient.
  for (const Variable& v : inputs)
    node->inputs.push_back(v.defined() ? v.slot_ptr() : std::make_shared<GradSlot>());
  node->backward = std::move(backward_fn);
  Variable out(std::move(value), true);
  out.slot().producer = std::move(node);
  if (recompute) out.impl_->recompute = std::make_shared<const Recompute>(std::move(recompute));
  return out;
}

// An output's recipe (see SavedValue).
void attach_recompute(Variable& out, Recompute recompute, Claim claim) {
  out.impl_->recompute = std::make_shared<const Recompute>(std::move(recompute));
  out.impl_->claim = std::move(claim);
}

InputsOf member_inputs(size_t members, size_t kinds, size_t shared) {
  InputsOf inputs(members);
  for (size_t k = 0; k < members; ++k) {
    for (size_t i = 0; i < shared; ++i) inputs[k].push_back(i);
    for (size_t kind = 0; kind < kinds; ++kind) inputs[k].push_back(shared + kind * members + k);
  }
  return inputs;
}

// The op's node hangs off a hidden slot that only its outputs' nodes feed. Each output's node
// sets its dL/d(output) aside (no kernel) and marks the hidden slot as having a gradient; the
// op's node, upstream of every output, runs after all of them, once, with all of them.
std::vector<Variable> make_results(const char* op, std::vector<Tensor> values,
                                   const std::vector<Variable>& inputs, MultiBackwardFn backward_fn,
                                   std::vector<GroupRecipe> recipes, InputsOf depends_on) {
  AN_CHECK(recipes.empty() || recipes.size() == values.size())
      << op << ": " << recipes.size() << " recipes for " << values.size() << " outputs";
  AN_CHECK(depends_on.empty() || depends_on.size() == values.size())
      << op << ": the inputs of " << depends_on.size() << " outputs given for " << values.size();
  // Whether output k needs a gradient: some input it is computed from does.
  const auto output_needs_grad = [&](size_t k) {
    if (depends_on.empty()) return true;
    std::vector<Variable> its_inputs;
    for (size_t i : depends_on[k]) its_inputs.push_back(inputs.at(i));
    return needs_grad(its_inputs);
  };
  auto attach = [&](Variable& out, size_t k) {
    if (!recipes.empty() && recipes[k].rebuild && grad_enabled())
      attach_recompute(out, std::move(recipes[k].rebuild), std::move(recipes[k].claim));
  };
  for (Tensor& v : values)
    if (v.defined()) v.storage()->label(op);  // as make_result labels its output
  std::vector<Variable> outs;
  if (!needs_grad(inputs)) {
    for (size_t k = 0; k < values.size(); ++k) {
      outs.emplace_back(std::move(values[k]));
      attach(outs.back(), k);
    }
    return outs;
  }
  auto grad_outputs = std::make_shared<std::vector<Tensor>>(values.size());
  auto hidden = std::make_shared<GradSlot>();
  hidden->requires_grad = true;
  hidden->producer = make_result(op, values.at(0), inputs,
                                 [grad_outputs, fn = std::move(backward_fn)](
                                     const Tensor&, const SlotList& in) {
                                   std::vector<Tensor> grads;
                                   grads.swap(*grad_outputs);  // released after this sweep
                                   grad_outputs->resize(grads.size());
                                   fn(grads, in);
                                 }).slot().producer;
  for (size_t k = 0; k < values.size(); ++k) {
    if (!output_needs_grad(k)) {  // a constant, as when no input needs a gradient
      outs.emplace_back(std::move(values[k]));
      attach(outs.back(), k);
      continue;
    }
    auto node = std::make_shared<Node>();
    node->op = op;
    node->inputs = {hidden};
    node->backward = [grad_outputs, k](const Tensor& grad, const SlotList& in) {
      (*grad_outputs)[k] = grad;
      if (!in[0]->grad.defined()) in[0]->grad = grad;  // only marks the op's node to run
    };
    Variable out(std::move(values[k]), true);
    out.slot().producer = std::move(node);
    attach(out, k);
    outs.push_back(std::move(out));
  }
  return outs;
}

std::vector<GroupRecipe> rebuild_together(size_t count, RebuildSome rebuild) {
  struct Shared {
    RebuildSome rebuild;
    std::vector<Tensor> waiting;  // rebuilt, not yet handed out (undefined: handed out or never built)
    std::vector<int64_t> claims;  // per output: claims alive (the sweep runs on one thread)
  };
  auto shared = std::make_shared<Shared>(
      Shared{std::move(rebuild), std::vector<Tensor>(count), std::vector<int64_t>(count, 0)});
  std::vector<GroupRecipe> recipes;
  for (size_t k = 0; k < count; ++k) {
    Recompute get = [shared, k]() -> Tensor {
      if (!shared->waiting[k].defined()) {
        std::vector<bool> wanted(shared->claims.size());
        for (size_t i = 0; i < wanted.size(); ++i) wanted[i] = i == k || shared->claims[i] > 0;
        shared->waiting = shared->rebuild(wanted);
        AN_CHECK(shared->waiting.size() == wanted.size() && shared->waiting[k].defined())
            << "a group rebuilt " << shared->waiting.size() << " outputs; output " << k
            << " of " << wanted.size() << " was asked for";
      }
      Tensor out = shared->waiting[k];
      shared->waiting[k] = Tensor();  // dropped here: the consumer holds it now
      return out;
    };
    // A claim is a handle whose last copy gives the count back.
    Claim claim = [shared, k]() -> std::shared_ptr<const void> {
      ++shared->claims[k];
      return std::shared_ptr<const void>(shared.get(), [shared, k](const void*) {
        --shared->claims[k];
      });
    };
    recipes.push_back({std::move(get), std::move(claim)});
  }
  return recipes;
}

// ---------------------------------------------------------------------------------------------
// Saved values

namespace {
thread_local bool t_keep_values = false;
}

bool rebuilding_values() { return !t_keep_values; }

KeepValuesGuard::KeepValuesGuard(bool active)
    : ScopedThreadFlag(t_keep_values, t_keep_values || active) {}

SavedValue::SavedValue(const Variable& v) : spec_(TensorSpec::of(v.value())) {
  if (v.impl_->recompute && !t_keep_values) {
    recompute_ = v.impl_->recompute;
    if (v.impl_->claim) claim_ = v.impl_->claim();
  } else {
    value_ = v.value();
  }
}

Tensor SavedValue::get() const {
  if (value_.defined() || !recompute_) return value_;
  Tensor value = (*recompute_)();
  value.storage()->label("(recomputed in backward)");
  return value;
}

// ---------------------------------------------------------------------------------------------
// The reverse sweep

namespace {
// Slots reachable from `root` through producers, each after every slot it feeds (post-order of an
// iterative DFS, so graph depth is not limited by the call stack).
std::vector<GradSlot*> topological_order(GradSlot* root) {
  std::vector<GradSlot*> order;
  std::unordered_set<GradSlot*> visited{root};
  std::vector<std::pair<GradSlot*, size_t>> stack{{root, 0}};  // slot, next input to visit
  while (!stack.empty()) {
    auto& [slot, next] = stack.back();
    Node* node = slot->producer.get();
    if (node && next < node->inputs.size()) {
      GradSlot* input = node->inputs[next++].get();
      if (input->requires_grad && visited.insert(input).second) stack.push_back({input, 0});
      continue;
    }
    order.push_back(slot);
    stack.pop_back();
  }
  return order;  // inputs before the slots they feed; root last
}

// The compute stream is about to land or read slot's gradient: side work first.
void settle_side_work(GradSlot& slot) {
  if (!slot.grad_on_side_stream) return;
  join_side_work(slot.grad.device());
  slot.grad_on_side_stream = false;
}

// A kernel on `on` is about to add into slot's gradient, on `device`.
void before_landing(GradSlot& slot, LandsOn on, Device device) {
  if (on == LandsOn::compute_stream)
    settle_side_work(slot);
  else if (side_work_allowed(device))
    slot.grad_on_side_stream = true;
}
}  // namespace

void backward(const Variable& root, const Tensor& grad_root, bool retain_graph) {
  AN_CHECK(root.requires_grad()) << "backward() of a variable that does not require a gradient "
                                 << "(no parameter or input with requires_grad reached it)";
  GradSlot* root_slot = &root.slot();
  if (grad_root.defined()) {
    AN_CHECK(grad_root.shape() == root.shape() && grad_root.dtype() == root.dtype())
        << "backward(): seed gradient " << grad_root.describe() << " does not match root "
        << root.value().describe();
    accumulate_grad(*root_slot, grad_root);
  } else {
    AN_CHECK(root.numel() == 1) << "backward() of non-scalar " << root.value().describe()
                                << " needs an explicit seed gradient";
    Tensor ones = Tensor::empty(root.shape(), root.dtype(), root.device());
    fill(ones, 1.0);
    accumulate_grad(*root_slot, ones);
  }

  const std::vector<GradSlot*> order = topological_order(root_slot);
  // Weight gradients may run on the side stream beside the sweep; joined when the sweep ends
  // (runtime/side_stream.h), so every gradient is complete for whoever reads it next.
  SideStreamScope side_streams(root.device());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    GradSlot* slot = *it;
    Node* node = slot->producer.get();
    if (!node) continue;  // a leaf: its gradient stays
    if (slot->grad.defined()) {
      settle_side_work(*slot);  // a non-parameter's gradient landed on the side stream
      AN_CHECK(node->backward) << "backward() through a " << node->op
                               << " node whose graph was already freed by an earlier backward"
                               << " (pass retain_graph = true to sweep a graph twice)";
      node->backward(slot->grad, node->inputs);
    }
    if (!slot->retain_grad) {
      slot->grad = Tensor();
      slot->grad_is_borrowed = false;
    }
    if (!retain_graph) node->backward = nullptr;  // frees the captured tensors
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient landing helpers

namespace {
thread_local bool t_separate_contributions = false;

// Makes a borrowed gradient the slot's own: `with` (a fresh tensor holding this contribution)
// becomes old + with, with of the same shape as old. One pass, like the axpby it replaces.
void add_borrowed_into(GradSlot& slot, Tensor with) {
  axpby(1.0, slot.grad, 1.0, with);
  slot.grad = std::move(with);
  slot.grad_is_borrowed = false;
}
}  // namespace

SeparateGradContributionsGuard::SeparateGradContributionsGuard()
    : ScopedThreadFlag(t_separate_contributions, true) {}

void accumulate_grad(GradSlot& slot, const Tensor& g, double alpha) {
  if (!slot.requires_grad) return;
  settle_side_work(slot);
  if (!slot.grad.defined()) {
    // Borrowing is safe where only the sweep reads the gradient: an intermediate slot whose
    // gradient is dropped after its node ran. Leaves and retained gradients get their own copy.
    const bool intermediate = slot.producer && !slot.retain_grad;
    if (alpha == 1.0 && intermediate && !t_separate_contributions) {
      slot.grad = g;
      slot.grad_is_borrowed = true;
      return;
    }
    slot.grad = Tensor::empty(g.shape(), g.dtype(), g.device());
    axpby(alpha, g, 0.0, slot.grad);
    return;
  }
  if (slot.grad_is_borrowed) {
    Tensor own = Tensor::empty(g.shape(), g.dtype(), g.device());
    axpby(alpha, g, 0.0, own);
    add_borrowed_into(slot, std::move(own));
    return;
  }
  axpby(alpha, g, 1.0, slot.grad);
}

GradTarget::GradTarget(GradSlot& slot, const TensorSpec& spec, bool can_accumulate, LandsOn on)
    : on_(on) {
  if (!slot.requires_grad) return;
  before_landing(slot, on, spec.device);
  slot_ = &slot;
  const bool in_place = can_accumulate && slot.grad.defined() && !slot.grad_is_borrowed &&
                        !slot.target_open && !t_separate_contributions;
  if (in_place) {
    tensor = slot.grad;
    mode = GradMode::Accumulate;
    slot.target_open = true;  // a second target of this slot in the same kernel call writes apart
  } else {
    tensor = Tensor::empty(spec.shape, spec.dtype, spec.device);
  }
}

GradTarget::GradTarget(GradTarget&& other) noexcept
    : tensor(std::move(other.tensor)), mode(other.mode), slot_(other.slot_), on_(other.on_) {
  other.slot_ = nullptr;
}

GradTarget::~GradTarget() {
  if (slot_ && mode == GradMode::Accumulate) slot_->target_open = false;
}

void GradTarget::finish() {
  if (!slot_) return;
  GradSlot& slot = *slot_;
  if (mode == GradMode::Accumulate) {
    slot.target_open = false;  // the kernel added into the gradient itself
  } else if (!slot.grad.defined()) {
    slot.grad = std::move(tensor);
  } else {
    // Added apart on the compute stream: a side kernel's tensor is waited for first.
    if (on_ == LandsOn::side_stream) join_side_work(tensor.device());
    if (slot.grad_is_borrowed)
      add_borrowed_into(slot, std::move(tensor));
    else
      axpby(1.0, tensor, 1.0, slot.grad);
  }
  slot_ = nullptr;
  tensor = Tensor();
}

Tensor accumulate_target(GradSlot& slot, const TensorSpec& spec, LandsOn on) {
  if (!slot.requires_grad) return Tensor();
  before_landing(slot, on, spec.device);
  if (!slot.grad.defined()) {
    slot.grad = Tensor::empty(spec.shape, spec.dtype, spec.device);
    fill(slot.grad, 0.0);
  } else if (slot.grad_is_borrowed) {
    Tensor own = Tensor::empty(spec.shape, spec.dtype, spec.device);
    axpby(1.0, slot.grad, 0.0, own);
    slot.grad = std::move(own);
    slot.grad_is_borrowed = false;
  }
  return slot.grad;
}

}  // namespace autonet
