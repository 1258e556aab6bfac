// Scalar formulas of the RNN cell's node step, shared by the CPU loops and the CUDA kernels so the
// two twins cannot drift apart. One element of one predecessor: gate pre-activation c_pre,
// candidate pre-activation h_pre, predecessor state s.
#pragma once
#include "kernels/elementwise_math.h"
#include "kernels/rnn_cell.h"

// The loops over the four activations unrolled early on the host too, so that each k's
// activation is known at compile time and the CPU loops over a row that call these vectorise.
#if defined(__CUDACC__)
#define AN_ACTIVATIONS_UNROLL AN_UNROLL
#else
#define AN_ACTIVATIONS_UNROLL _Pragma("GCC unroll 4")
#endif

namespace autonet {

AN_HOST_DEVICE UnaryOp rnn_unary_op(RnnActivation act) {
  switch (act) {
    case RnnActivation::tanh: return UnaryOp::tanh;
    case RnnActivation::relu: return UnaryOp::relu;
    case RnnActivation::sigmoid: return UnaryOp::sigmoid;
    case RnnActivation::identity: return UnaryOp::identity;
  }
  return UnaryOp::identity;
}

// Column k (0..3) of the mixing weights ↔ activation k in α's order without `none`.
AN_HOST_DEVICE RnnActivation rnn_activation_at(int k) { return static_cast<RnnActivation>(k); }

// u = s + σ(c_pre)·(f(h_pre) − s).
template <class T>
AN_HOST_DEVICE T rnn_node_value(RnnActivation act, T c_pre, T h_pre, T s) {
  const T c = unary_value(UnaryOp::sigmoid, c_pre);
  return s + c * (unary_value(rnn_unary_op(act), h_pre) - s);
}

// Gradients of u with respect to c_pre, h_pre and s, given g = dL/du.
template <class T>
AN_HOST_DEVICE void rnn_node_grad(RnnActivation act, T c_pre, T h_pre, T s, T g, T& dc_pre,
                                  T& dh_pre, T& ds) {
  const T c = unary_value(UnaryOp::sigmoid, c_pre);
  const UnaryOp op = rnn_unary_op(act);
  const T f = unary_value(op, h_pre);
  dc_pre = g * (f - s) * c * (T(1) - c);
  dh_pre = g * c * unary_derivative(op, h_pre, f);
  ds = g * (T(1) - c);
}

// Σ_k w[k]·u_k = W·s + c·(F − W·s) with W = Σ_k w[k], F = Σ_k w[k]·f_k(h_pre): the gate is
// computed once for the four activations.
template <class T>
AN_HOST_DEVICE T rnn_mix_value(const T* w, T c_pre, T h_pre, T s) {
  const T c = unary_value(UnaryOp::sigmoid, c_pre);
  T w_sum = 0, f_sum = 0;
  AN_ACTIVATIONS_UNROLL
      for (int k = 0; k < kRnnActivations; ++k) {
    w_sum += w[k];
    f_sum += w[k] * unary_value(rnn_unary_op(rnn_activation_at(k)), h_pre);
  }
  return w_sum * s + c * (f_sum - w_sum * s);
}

// Gradients of Σ_k w[k]·u_k given g: dc_pre, dh_pre, ds, and the per-activation values u[k]
// (dL/dw[k] = g·u[k]).
template <class T>
AN_HOST_DEVICE void rnn_mix_grad(const T* w, T c_pre, T h_pre, T s, T g, T& dc_pre, T& dh_pre,
                                 T& ds, T* u) {
  const T c = unary_value(UnaryOp::sigmoid, c_pre);
  T w_sum = 0, f_sum = 0, df_sum = 0;
  AN_ACTIVATIONS_UNROLL
      for (int k = 0; k < kRnnActivations; ++k) {
    const UnaryOp op = rnn_unary_op(rnn_activation_at(k));
    const T f = unary_value(op, h_pre);
    u[k] = s + c * (f - s);
    w_sum += w[k];
    f_sum += w[k] * f;
    df_sum += w[k] * unary_derivative(op, h_pre, f);
  }
  dc_pre = g * (f_sum - w_sum * s) * c * (T(1) - c);
  dh_pre = g * c * df_sum;
  ds = g * w_sum * (T(1) - c);
}

}  // namespace autonet
