// Public entries of the RNN cell's node step: validate once, then dispatch to a twin.
#include "kernels/rnn_cell.h"

#include "kernels/op_cost.h"

namespace autonet {

const char* rnn_activation_name(RnnActivation act) {
  switch (act) {
    case RnnActivation::tanh: return "tanh";
    case RnnActivation::relu: return "relu";
    case RnnActivation::sigmoid: return "sigmoid";
    case RnnActivation::identity: return "identity";
  }
  return "?";
}

RnnActivation rnn_activation_from_name(const std::string& name) {
  for (int k = 0; k < kRnnActivations; ++k) {
    const auto act = static_cast<RnnActivation>(k);
    if (name == rnn_activation_name(act)) return act;
  }
  AN_THROW() << "not an RNN cell activation: '" << name
             << "' (expected tanh, relu, sigmoid or identity)";
}

namespace {
// A float operand like `ref` (ch), of `shape`.
void check_tensor(const Tensor& t, const Tensor& ref, const Shape& shape, const char* what) {
  check_float(t, what);
  check_matches(t, ref, shape, what);
}

void check_activation(RnnActivation act, const char* what) {
  const int k = static_cast<int>(act);
  AN_CHECK(k >= 0 && k < kRnnActivations) << what << ": invalid activation " << k;
}

// A derived node's inputs: ch [B, 2H], s [B, H] like it, the activation. Returns {B, H}.
Shape check_node_inputs(const Tensor& ch, const Tensor& s, RnnActivation act, const char* what) {
  check_defined(ch, what);
  AN_CHECK(ch.dim() == 2 && ch.size(1) % 2 == 0)
      << what << ": ch must be [B, 2H] (gate and candidate halves), got " << ch.describe();
  const Shape state{ch.size(0), ch.size(1) / 2};
  check_tensor(ch, ch, ch.shape(), what);
  check_tensor(s, ch, state, what);
  check_activation(act, what);
  return state;
}

// A search node's inputs: ch [J, B, 2H], s [J, B, H] and w [J, 4] like it. Returns {J, B, H}.
Shape check_mix_inputs(const Tensor& ch, const Tensor& s, const Tensor& w, const char* what) {
  check_defined(ch, what);
  AN_CHECK(ch.dim() == 3 && ch.size(2) % 2 == 0 && ch.size(0) >= 1 && ch.size(0) <= 65535)
      << what << ": ch must be [J, B, 2H] with 1 ≤ J ≤ 65535 predecessors, got "
      << ch.describe();
  const Shape state{ch.size(0), ch.size(1), ch.size(2) / 2};
  check_tensor(ch, ch, ch.shape(), what);
  check_tensor(s, ch, state, what);
  check_tensor(w, ch, {state[0], kRnnActivations}, what);
  return state;
}
}  // namespace

void rnn_node_forward(const Tensor& ch, const Tensor& s, RnnActivation act, Tensor& out) {
  const char* what = "rnn_node_forward";
  const Shape state = check_node_inputs(ch, s, act, what);
  check_tensor(out, ch, state, what);
  count_op("rnn_node_forward", [&] {
    return out.numel() == 0 ? OpCost{} : launch(bytes_of(ch, s), bytes_of(out), 8 * out.numel());
  });
  AN_ON_DEVICE(ch.device(), cpu::rnn_node_forward(ch, s, act, out),
               cuda::rnn_node_forward(ch, s, act, out));
}

void rnn_node_backward(const Tensor& ch, const Tensor& s, RnnActivation act, const Tensor& dout,
                       Tensor& dch, Tensor& ds) {
  const char* what = "rnn_node_backward";
  const Shape state = check_node_inputs(ch, s, act, what);
  check_tensor(dout, ch, state, what);
  if (dch.defined()) check_tensor(dch, ch, ch.shape(), what);
  if (ds.defined()) check_tensor(ds, ch, state, what);
  count_op("rnn_node_backward", [&] {
    if (dout.numel() == 0 || (!dch.defined() && !ds.defined())) return OpCost{};
    return launch(bytes_of(ch, s, dout), bytes_of(dch, ds), 12 * dout.numel());
  });
  AN_ON_DEVICE(ch.device(), cpu::rnn_node_backward(ch, s, act, dout, dch, ds),
               cuda::rnn_node_backward(ch, s, act, dout, dch, ds));
}

namespace {
// The mix kernel: 4 activations per predecessor and element.
OpCost mix_forward_cost(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& out) {
  if (out.numel() == 0) return OpCost{};
  return launch(bytes_of(ch, s, w), bytes_of(out), 32 * s.numel());
}

// The mix's backward kernel writes dch, ds and per-block partial dots; a second kernel adds them
// into dw.
OpCost mix_backward_cost(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& dout,
                         const Tensor& dch, const Tensor& ds, const Tensor& dw) {
  if (dout.numel() == 0 || (!dch.defined() && !ds.defined() && !dw.defined())) return OpCost{};
  OpCost cost = launch(bytes_of(ch, s, w, dout), bytes_of(dch, ds), 48 * s.numel());
  if (dw.defined()) cost += launch(bytes_of(dw), bytes_of(dw));
  return cost;
}
}  // namespace

void rnn_mix_forward(const Tensor& ch, const Tensor& s, const Tensor& w, Tensor& out) {
  const char* what = "rnn_mix_forward";
  const Shape state = check_mix_inputs(ch, s, w, what);
  check_tensor(out, ch, {state[1], state[2]}, what);
  count_op("rnn_mix_forward", [&] { return mix_forward_cost(ch, s, w, out); });
  AN_ON_DEVICE(ch.device(), cpu::rnn_mix_forward(ch, s, w, out),
               cuda::rnn_mix_forward(ch, s, w, out));
}

void rnn_mix_backward(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& dout,
                      Tensor& dch, Tensor& ds, Tensor& dw) {
  const char* what = "rnn_mix_backward";
  const Shape state = check_mix_inputs(ch, s, w, what);
  check_tensor(dout, ch, {state[1], state[2]}, what);
  if (dch.defined()) check_tensor(dch, ch, ch.shape(), what);
  if (ds.defined()) check_tensor(ds, ch, state, what);
  if (dw.defined()) check_tensor(dw, ch, w.shape(), what);
  count_op("rnn_mix_backward", [&] { return mix_backward_cost(ch, s, w, dout, dch, ds, dw); });
  AN_ON_DEVICE(ch.device(), cpu::rnn_mix_backward(ch, s, w, dout, dch, ds, dw),
               cuda::rnn_mix_backward(ch, s, w, dout, dch, ds, dw));
}

void rnn_mix_batch_norm_forward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                Tensor& running_mean, Tensor& running_var, Tensor& y,
                                Tensor& save_mean, Tensor& save_invstd, const BatchNormParams& p) {
  const char* what = "rnn_mix_batch_norm_forward";
  const Shape state = check_mix_inputs(ch, s, w, what);
  check_tensor(y, ch, {state[1], state[2]}, what);
  check_batch_norm_params(p, what);
  for (const Tensor* stat : {&save_mean, &save_invstd})
    check_tensor(*stat, ch, {state[2]}, what);
  AN_CHECK(running_mean.defined() == running_var.defined() &&
           (p.training || running_mean.defined()))
      << what << ": running_mean and running_var are tracked together, and eval needs them";
  if (running_mean.defined()) {
    check_tensor(running_mean, ch, {state[2]}, what);
    check_tensor(running_var, ch, {state[2]}, what);
  }
  AN_CHECK(!p.training || state[1] > 1)
      << what << ": training needs more than one value per channel, got a batch of " << state[1];
  // Narrow channels: one kernel reads ch, s and w, writes the mix into y, reads it back (twice
  // in training: statistics, then outputs) and writes y and the statistics; else the mix kernel
  // and then batch norm's two.
  count_op(what, [&] {
    if (y.numel() == 0) return OpCost{};
    if (!rnn_mix_batch_norm_fused(s))
      return mix_forward_cost(ch, s, w, y) +
             batch_norm_forward_cost(y, Tensor(), Tensor(), running_mean, running_var, y,
                                     save_mean, save_invstd, p);
    const int64_t n = y.numel(), running = bytes_of(running_mean, running_var);
    const int64_t written =
        2 * bytes_of(y) + bytes_of(save_mean, save_invstd) + (p.training ? running : 0);
    return launch(bytes_of(ch, s, w) + running + (p.training ? 2 : 1) * bytes_of(y), written,
                  32 * s.numel() + (p.training ? 8 : 4) * n);
  });
  AN_ON_DEVICE(ch.device(),
               cpu::rnn_mix_batch_norm_forward(ch, s, w, running_mean, running_var, y, save_mean,
                                               save_invstd, p),
               cuda::rnn_mix_batch_norm_forward(ch, s, w, running_mean, running_var, y,
                                                save_mean, save_invstd, p));
}

void rnn_mix_batch_norm_backward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                 const Tensor& y, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, Tensor& dch,
                                 Tensor& ds, Tensor& dw, const BatchNormParams& p) {
  const char* what = "rnn_mix_batch_norm_backward";
  const Shape state = check_mix_inputs(ch, s, w, what);
  for (const Tensor* t : {&y, &dy}) check_tensor(*t, ch, {state[1], state[2]}, what);
  for (const Tensor* t : {&save_mean, &save_invstd}) check_tensor(*t, ch, {state[2]}, what);
  if (dch.defined()) check_tensor(dch, ch, ch.shape(), what);
  if (ds.defined()) check_tensor(ds, ch, state, what);
  if (dw.defined()) check_tensor(dw, ch, w.shape(), what);
  AN_CHECK(p.backward_from_output) << what << ": the BN's backward is given its output y";
  // Fused: one kernel reads y, dy, invstd, ch, s and w and writes dch and ds (and the blocks' α
  // sums), one more adds those into dw (each predecessor's blocks read y and dy again, from L2).
  // Else the BN's sums and dx kernels (the mix's dout written and read), then the mix's.
  count_op(what, [&] {
    OpCost mix = mix_backward_cost(ch, s, w, dy, dch, ds, dw);
    if (mix.launches == 0) return mix;
    if (!rnn_mix_batch_norm_fused(s))  // the BN's dx (the mix's dout) shaped as dy
      return batch_norm_backward_cost(y, Tensor(), save_mean, save_invstd, dy, dy, Tensor(),
                                      Tensor(), p) +
             mix;
    mix.bytes_read += bytes_of(y, save_invstd);  // x̂ is y: the mean is not read
    mix.flops += 11 * dy.numel();
    return mix;
  });
  AN_ON_DEVICE(ch.device(),
               cpu::rnn_mix_batch_norm_backward(ch, s, w, y, save_mean, save_invstd, dy, dch, ds,
                                                dw, p),
               cuda::rnn_mix_batch_norm_backward(ch, s, w, y, save_mean, save_invstd, dy, dch,
                                                 ds, dw, p));
}

}  // namespace autonet
