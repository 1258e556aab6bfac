// The per-step node work of the recurrent DARTS cell (reference/darts.md §7.2–§7.3), fused: the
// gate, the activations, the highway mix with the predecessor state and (search cell) the
// α-weighted sum — forward and backward each in one pass over the node's elements.
//
// A node reads pre-activations ch = [c_pre | h_pre] (the GEMM of its masked predecessor state with
// W_i, row vectors: the first H columns gate, the last H the candidate) and the unmasked
// predecessor state s:
//   c = σ(c_pre),  u_f = s + c·(f(h_pre) − s)      for an activation f.
// Derived cell (one activation per node, also the first state s₀ with f = tanh):
//   out = u_f.
// Search cell (node fed by J predecessors through one shared W_i, reference model_search.py):
//   out = Σ_j Σ_k w[j, k] · u_{f_k}(ch[j], s[j]),  k over the 4 non-none activations in α's column
//   order (tanh, relu, sigmoid, identity); w = the node's rows of softmax(α) without `none`.
//
// Gradient contract: dch and ds are WRITTEN, dw (the α side) ACCUMULATES; undefined gradient
// tensors are skipped. relu'(0) = 0 as in PyTorch.
#pragma once
#include <string>

#include "kernels/batch_norm.h"
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

// The non-none RNN primitives in α's column order (columns 1..4; column 0 is `none`).
enum class RnnActivation { tanh, relu, sigmoid, identity };
constexpr int kRnnActivations = 4;
const char* rnn_activation_name(RnnActivation act);
RnnActivation rnn_activation_from_name(const std::string& name);  // throws for none/unknown

AN_KERNEL_ENTRIES(
// Derived node: ch [B, 2H], s [B, H] → out [B, H].
void rnn_node_forward(const Tensor& ch, const Tensor& s, RnnActivation act, Tensor& out);
// dch [B, 2H] and ds [B, H] written (either may be undefined).
void rnn_node_backward(const Tensor& ch, const Tensor& s, RnnActivation act, const Tensor& dout,
                       Tensor& dch, Tensor& ds);

// Search node: ch [J, B, 2H], s [J, B, H], w [J, 4] (on the same device: no host sync) →
// out [B, H].
void rnn_mix_forward(const Tensor& ch, const Tensor& s, const Tensor& w, Tensor& out);
// dch [J, B, 2H], ds [J, B, H] written; dw [J, 4] += Σ_{b,h} dout · u (summed in a fixed order).
void rnn_mix_backward(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& dout,
                      Tensor& dch, Tensor& ds, Tensor& dw);
// Search node and the cell's affine-free batch norm after it in one forward: y =
// batch_norm_forward(rnn_mix_forward(ch, s, w)), running_mean / running_var, save_mean /
// save_invstd [H] as batch_norm_forward's. On a GPU one launch where the BN's channels are
// narrow (batch_norm_in_one_launch: a block per 8 consecutive units, a thread per (row group,
// unit) so that a warp reads whole sectors, writes their mix into y and normalises it there).
void rnn_mix_batch_norm_forward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                Tensor& running_mean, Tensor& running_var, Tensor& y,
                                Tensor& save_mean, Tensor& save_invstd, const BatchNormParams& p);
// Its backward: batch_norm_backward from the output y (the BN's dx, the mix's dout), then
// rnn_mix_backward; dch, ds written, dw accumulates. On a GPU, narrow channels: one kernel (a
// block per 8 hidden units and predecessor: the BN's sums over the batch, then the mix's
// gradients of that predecessor's columns), plus the one adding the blocks' α sums into dw.
void rnn_mix_batch_norm_backward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                 const Tensor& y, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, Tensor& dch,
                                 Tensor& ds, Tensor& dw, const BatchNormParams& p);
)

// Whether rnn_mix_batch_norm's passes run as one kernel each on a GPU (else the two ops' kernels).
inline bool rnn_mix_batch_norm_fused(const Tensor& s) {
  return s.size(1) > 0 && s.size(1) <= kOneLaunchChannelValues;
}

}  // namespace autonet
