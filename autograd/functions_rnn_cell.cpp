// The recurrent DARTS cell's node step: both wrappers keep their inputs (the backward kernels
// recompute gate and activations from them rather than storing four candidate states).
#include "autograd/function_util.h"
#include "autograd/functions_rnn_cell.h"

namespace autonet {
using namespace detail;

Variable rnn_node(const Variable& ch, const Variable& s, RnnActivation act) {
  Tensor out = empty_like(s.value());
  rnn_node_forward(ch.value(), s.value(), act, out);
  const Tensor ch_value = ch.value(), s_value = s.value();
  return make_result("rnn_node", out, {ch, s}, [=](const Tensor& dout, const SlotList& in) {
    GradTarget dch(*in[0], TensorSpec::of(ch_value));
    GradTarget ds(*in[1], TensorSpec::of(s_value));
    rnn_node_backward(ch_value, s_value, act, dout.contiguous(), dch.tensor, ds.tensor);
    dch.finish();
    ds.finish();
  });
}

Variable rnn_mix(const Variable& ch, const Variable& s, const Variable& w) {
  AN_CHECK(s.dim() == 3) << "rnn_mix: s must be [J, B, H], got " << s.value().describe();
  Tensor out = Tensor::empty({s.size(1), s.size(2)}, s.dtype(), s.device());
  rnn_mix_forward(ch.value(), s.value(), w.value(), out);
  const Tensor ch_value = ch.value(), s_value = s.value(), w_value = w.value();
  return make_result("rnn_mix", out, {ch, s, w}, [=](const Tensor& dout, const SlotList& in) {
    GradTarget dch(*in[0], TensorSpec::of(ch_value));
    GradTarget ds(*in[1], TensorSpec::of(s_value));
    Tensor dw = accumulate_target(*in[2], TensorSpec::of(w_value));
    rnn_mix_backward(ch_value, s_value, w_value, dout.contiguous(), dch.tensor, ds.tensor, dw);
    dch.finish();
    ds.finish();
  });
}

Variable rnn_mix_batch_norm(const Variable& ch, const Variable& s, const Variable& w,
                            Tensor running_mean, Tensor running_var, const BatchNormParams& p) {
  AN_CHECK(s.dim() == 3) << "rnn_mix_batch_norm: s must be [J, B, H], got "
                         << s.value().describe();
  Tensor y = Tensor::empty({s.size(1), s.size(2)}, s.dtype(), s.device());
  Tensor save_mean = empty_as({s.size(2)}, y), save_invstd = empty_as({s.size(2)}, y);
  rnn_mix_batch_norm_forward(ch.value(), s.value(), w.value(), running_mean, running_var, y,
                             save_mean, save_invstd, p);
  // Backward as the two nodes': the BN's from its output (affine-free), then the mix's.
  BatchNormParams from_output = p;
  from_output.backward_from_output = true;
  const Tensor ch_value = ch.value(), s_value = s.value(), w_value = w.value();
  return make_result(
      "rnn_mix_batch_norm", y, {ch, s, w}, [=](const Tensor& dy, const SlotList& in) {
        GradTarget dch(*in[0], TensorSpec::of(ch_value));
        GradTarget ds(*in[1], TensorSpec::of(s_value));
        Tensor dw = accumulate_target(*in[2], TensorSpec::of(w_value));
        rnn_mix_batch_norm_backward(ch_value, s_value, w_value, y, save_mean, save_invstd,
                                    dy.contiguous(), dch.tensor, ds.tensor, dw, from_output);
        dch.finish();
        ds.finish();
      });
}

}  // namespace autonet
