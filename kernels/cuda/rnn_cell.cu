// CUDA twin of the RNN cell's node step. Each thread owns one (b, h) element of the node state;
// the formulas are those of kernels/rnn_cell_math.h. The search node's backward writes every
// input gradient in the pass that forms per-block partial sums of dout·u_k for each predecessor
// (blockIdx.y) and activation; a second tiny kernel adds the partials into dw in a fixed order
// (deterministic, no float atomics).
#include <algorithm>

#include "kernels/batch_norm_math.h"
#include "kernels/cuda/block_partials.cuh"
#include "kernels/rnn_cell.h"
#include "kernels/rnn_cell_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxPartialBlocks = 256;  // per predecessor: bounds the partial buffer

template <class T>
__global__ void node_forward_kernel(const T* __restrict__ ch, const T* __restrict__ s,
                                    RnnActivation act, T* __restrict__ out, int64_t hidden,
                                    int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / hidden, h = i % hidden, c_at = b * 2 * hidden + h;
    out[i] = rnn_node_value(act, ch[c_at], ch[c_at + hidden], s[i]);
  }
}

template <class T>
__global__ void node_backward_kernel(const T* __restrict__ ch, const T* __restrict__ s,
                                     RnnActivation act, const T* __restrict__ dout, T* dch, T* ds,
                                     int64_t hidden, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / hidden, h = i % hidden, c_at = b * 2 * hidden + h;
    T dc, dh, dsv;
    rnn_node_grad(act, ch[c_at], ch[c_at + hidden], s[i], dout[i], dc, dh, dsv);
    if (dch) {
      dch[c_at] = dc;
      dch[c_at + hidden] = dh;
    }
    if (ds) ds[i] = dsv;
  }
}

// out[b, h] = Σ_j Σ_k w[j, k]·u_k(ch[j, b], s[j, b]).
template <class T>
__global__ void mix_forward_kernel(const T* __restrict__ ch, const T* __restrict__ s,
                                   const T* __restrict__ w, T* __restrict__ out, int64_t preds,
                                   int64_t batch, int64_t hidden) {
  const int64_t n = batch * hidden;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / hidden, h = i % hidden;
    T acc = 0;
    for (int64_t j = 0; j < preds; ++j) {
      T wj[kRnnActivations];
#pragma unroll
      for (int k = 0; k < kRnnActivations; ++k) wj[k] = w[j * kRnnActivations + k];
      const int64_t c_at = (j * batch + b) * 2 * hidden + h;
      acc += rnn_mix_value(wj, ch[c_at], ch[c_at + hidden], s[j * n + i]);
    }
    out[i] = acc;
  }
}

// Predecessor j's gradients at (b, h) for the mix's output gradient g: dch[j], ds[j] written
// where wanted, g·u_k added into dot[k] (the α sums), weights wj = w[j].
template <class T>
__device__ void mix_grad_at(const T* __restrict__ ch, const T* __restrict__ s,
                            const T (&wj)[kRnnActivations], T g, int64_t j, int64_t b, int64_t h,
                            int64_t batch, int64_t hidden, T* dch, T* ds,
                            T (&dot)[kRnnActivations]) {
  const int64_t c_at = (j * batch + b) * 2 * hidden + h, s_at = (j * batch + b) * hidden + h;
  T dc, dh, dsv, u[kRnnActivations];
  rnn_mix_grad(wj, ch[c_at], ch[c_at + hidden], s[s_at], g, dc, dh, dsv, u);
  if (dch) {
    dch[c_at] = dc;
    dch[c_at + hidden] = dh;
  }
  if (ds) ds[s_at] = dsv;
#pragma unroll
  for (int k = 0; k < kRnnActivations; ++k) dot[k] += g * u[k];
}

// Predecessor j = blockIdx.y. Writes dch[j], ds[j]; when partials is non-null,
// partials[(j·4 + k)·gridDim.x + blockIdx.x] = this block's share of Σ dout·u_k.
template <class T>
__global__ void __launch_bounds__(kThreads)
    mix_backward_kernel(const T* __restrict__ ch, const T* __restrict__ s, const T* __restrict__ w,
                        const T* __restrict__ dout, T* dch, T* ds, T* partials, int64_t batch,
                        int64_t hidden) {
  const int64_t n = batch * hidden;
  const int64_t j = blockIdx.y;
  T wj[kRnnActivations], dot[kRnnActivations];
#pragma unroll
  for (int k = 0; k < kRnnActivations; ++k) wj[k] = w[j * kRnnActivations + k], dot[k] = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    mix_grad_at(ch, s, wj, dout[i], j, i / hidden, i % hidden, batch, hidden, dch, ds, dot);
  }
  if (partials)
    write_block_partials<kThreads>(dot, kRnnActivations, partials, j * kRnnActivations);
}

// The fused mix + batch norm kernels' blocks: kTileUnits consecutive hidden units each, a thread
// per (row group, unit), so a warp reads 4 rows × 8 consecutive units, four whole 32-byte sectors
// (a block per unit read one value per sector: an eighth of what it fetched). kRowGroups row
// groups a block: 32 (256 threads) for small batches, 128 (1,024) from batch 128 on, so that
// the few tiles of a narrow cell (38 at 300 units) still keep the card busy.
constexpr int kTileUnits = 8;

template <int kRowGroups>
struct TileThread {
  static constexpr int kBlock = kRowGroups * kTileUnits;  // threads a block
  int u, r;   // unit within the tile, row group: rows r, r + kRowGroups, ...
  int64_t h;  // hidden unit
  bool valid;
  __device__ explicit TileThread(int64_t hidden)
      : u(threadIdx.x % kTileUnits),
        r(threadIdx.x / kTileUnits),
        h(int64_t(blockIdx.x) * kTileUnits + threadIdx.x % kTileUnits),
        valid(h < hidden) {}
};

// f.template operator()<kRowGroups>() for a batch of `batch` rows.
template <class F>
void with_row_groups(int64_t batch, F&& f) {
  if (batch >= 128) return f.template operator()<128>();
  return f.template operator()<32>();
}

// a and b summed over the threads of this thread's unit (its row groups in order); every thread of
// the block calls it and gets its unit's totals.
template <int kRowGroups>
__device__ void unit_sums(double& a, double& b) {
  __shared__ double parts[2][kRowGroups][kTileUnits];
  __shared__ double totals[2][kTileUnits];
  const int u = threadIdx.x % kTileUnits, r = threadIdx.x / kTileUnits;
  parts[0][r][u] = a, parts[1][r][u] = b;
  __syncthreads();
  if (r == 0) {
    double sum_a = 0, sum_b = 0;
    for (int q = 0; q < kRowGroups; ++q) sum_a += parts[0][q][u], sum_b += parts[1][q][u];
    totals[0][u] = sum_a, totals[1][u] = sum_b;
  }
  __syncthreads();
  a = totals[0][u], b = totals[1][u];
}

// Block t: units [8t, 8t + 8)'s mix over the batch (as mix_forward_kernel forms it), written to y
// and read back by the thread that wrote it, then their batch norm (as batch_norm.cu's one-launch
// kernel: statistics in double around the first row's value, then outputs).
template <class T, int kRowGroups>
__global__ void __launch_bounds__(TileThread<kRowGroups>::kBlock)
    mix_batch_norm_kernel(const T* __restrict__ ch, const T* __restrict__ s,
                          const T* __restrict__ w, int64_t preds, int64_t batch, int64_t hidden,
                          BatchNormParams p, T* running_mean, T* running_var, T* save_mean,
                          T* save_invstd, T* y) {
  const TileThread<kRowGroups> t(hidden);
  const int64_t n = batch * hidden;
  for (int64_t b = t.r; t.valid && b < batch; b += kRowGroups) {
    T acc = 0;
    for (int64_t j = 0; j < preds; ++j) {
      const int64_t c_at = (j * batch + b) * 2 * hidden + t.h;
      acc += rnn_mix_value(w + j * kRnnActivations, ch[c_at], ch[c_at + hidden],
                           s[j * n + b * hidden + t.h]);
    }
    y[b * hidden + t.h] = acc;
  }
  __shared__ T mean[kTileUnits], invstd[kTileUnits];
  ShiftedMoments moments;
  if (p.training) {  // uniform across the grid
    __shared__ double shift[kTileUnits];
    if (t.r == 0 && t.valid) shift[t.u] = double(y[t.h]);  // its own row 0
    __syncthreads();
    moments.shift = t.valid ? shift[t.u] : 0.0;
    for (int64_t b = t.r; t.valid && b < batch; b += kRowGroups)
      moments.add(double(y[b * hidden + t.h]));
    unit_sums<kRowGroups>(moments.sum, moments.squares);
  }
  if (t.r == 0 && t.valid) {
    bn_pass_stats(moments, double(batch), p, running_mean ? running_mean + t.h : nullptr,
                  running_var ? running_var + t.h : nullptr, save_mean[t.h], save_invstd[t.h]);
    mean[t.u] = save_mean[t.h], invstd[t.u] = save_invstd[t.h];
  }
  __syncthreads();
  for (int64_t b = t.r; t.valid && b < batch; b += kRowGroups) {
    const int64_t i = b * hidden + t.h;
    y[i] = bn_output(y[i], mean[t.u], invstd[t.u], T(1), T(0));
  }
}

// Block (t, j): its units' BN backward sums over the batch (from the output y, as batch_norm.cu's
// one-launch kernel), then for each row b the mix's dout = the BN's dx there (as its formula) and
// the mix's gradients of predecessor j at (b, h) (as mix_backward_kernel); where dw is wanted, the
// block's Σ dout·u per activation k into partials[(j·4 + k)·gridDim.x + blockIdx.x]. A block per
// (tile, predecessor), not per tile: the sums are cheap and read again from L2 by each j's block,
// and the mix's gradients, the bulk of the work, then fill the card (a 300-unit cell has only 38
// tiles), while each thread keeps its four α sums in registers.
template <class T, int kRowGroups>
__global__ void __launch_bounds__(TileThread<kRowGroups>::kBlock)
    mix_batch_norm_backward_kernel(const T* __restrict__ ch, const T* __restrict__ s,
                                   const T* __restrict__ w, const T* __restrict__ y,
                                   const T* __restrict__ invstd, const T* __restrict__ dy,
                                   int64_t batch, int64_t hidden, bool training, T* dch, T* ds,
                                   T* partials) {
  const TileThread<kRowGroups> t(hidden);
  const int64_t j = blockIdx.y;
  __shared__ T means[2][kTileUnits];  // mean(dy), mean(dy·x̂) per unit: training only
  if (training) {  // uniform across the grid
    double sum_g = 0, sum_g_xhat = 0;
    for (int64_t b = t.r; t.valid && b < batch; b += kRowGroups) {
      const int64_t i = b * hidden + t.h;
      const double g = dy[i];
      sum_g += g;
      sum_g_xhat += g * double(y[i]);  // x̂ is the output (backward_from_output)
    }
    unit_sums<kRowGroups>(sum_g, sum_g_xhat);
    if (t.r == 0) means[0][t.u] = T(sum_g / batch), means[1][t.u] = T(sum_g_xhat / batch);
    __syncthreads();
  }
  T wj[kRnnActivations], dot[kRnnActivations];
#pragma unroll
  for (int k = 0; k < kRnnActivations; ++k) wj[k] = w[j * kRnnActivations + k], dot[k] = 0;
  for (int64_t b = t.r; t.valid && b < batch; b += kRowGroups) {
    const int64_t i = b * hidden + t.h;
    const T g = training ? bn_input_grad_train(dy[i], y[i], invstd[t.h], T(1), means[0][t.u],
                                               means[1][t.u])
                         : bn_input_grad_eval(dy[i], invstd[t.h], T(1));
    mix_grad_at(ch, s, wj, g, j, b, t.h, batch, hidden, dch, ds, dot);
  }
  if (partials)  // uniform across the grid
    write_block_partials<TileThread<kRowGroups>::kBlock>(dot, kRnnActivations, partials,
                                                         j * kRnnActivations);
}

// Blocks of the fused kernels for `hidden` units.
unsigned tile_blocks(int64_t hidden) {
  return static_cast<unsigned>((hidden + kTileUnits - 1) / kTileUnits);
}

}  // namespace

void rnn_mix_batch_norm_backward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                 const Tensor& y, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, Tensor& dch,
                                 Tensor& ds, Tensor& dw, const BatchNormParams& p) {
  if (dy.numel() == 0 || (!dch.defined() && !ds.defined() && !dw.defined())) return;
  if (!rnn_mix_batch_norm_fused(s)) {  // the two ops' kernels
    Tensor dmix = Tensor::empty(y.shape(), y.dtype(), y.device()), none;
    cuda::batch_norm_backward(y, none, save_mean, save_invstd, dy, dmix, none, none, p);
    cuda::rnn_mix_backward(ch, s, w, dmix, dch, ds, dw);
    return;
  }
  const int64_t preds = s.size(0), batch = s.size(1), hidden = s.size(2);
  cudaStream_t st = stream(ch.device());
  dispatch_float(ch.dtype(), "rnn_mix_batch_norm_backward", [&]<class scalar_t>() {
    // partials [J·4, blocks]: each block's share of dw, added in a fixed order below.
    const unsigned blocks = tile_blocks(hidden);
    Tensor partials;
    if (dw.defined())
      partials = Tensor::empty({preds * kRnnActivations, int64_t(blocks)}, ch.dtype(), ch.device());
    scalar_t* pp = partials.defined() ? partials.data<scalar_t>() : nullptr;
    const dim3 grid(blocks, static_cast<unsigned>(preds));
    with_row_groups(batch, [&]<int kRowGroups>() {
      mix_batch_norm_backward_kernel<scalar_t, kRowGroups>
          <<<grid, TileThread<kRowGroups>::kBlock, 0, st>>>(
              ch.data<scalar_t>(), s.data<scalar_t>(), w.data<scalar_t>(), y.data<scalar_t>(),
              save_invstd.data<scalar_t>(), dy.data<scalar_t>(), batch, hidden, p.training,
              data_or_null<scalar_t>(dch), data_or_null<scalar_t>(ds), pp);
    });
    AN_CUDA_CHECK_LAUNCH();
    if (!pp) return;
    add_partials_kernel<kThreads>
        <<<static_cast<unsigned>(preds * kRnnActivations), kThreads, 0, st>>>(
            pp, static_cast<int>(blocks), dw.data<scalar_t>());
    AN_CUDA_CHECK_LAUNCH();
  });
}

void rnn_mix_batch_norm_forward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                Tensor& running_mean, Tensor& running_var, Tensor& y,
                                Tensor& save_mean, Tensor& save_invstd, const BatchNormParams& p) {
  if (y.numel() == 0) return;
  if (!rnn_mix_batch_norm_fused(s)) {  // wide channels: the two ops' kernels
    Tensor mixed = Tensor::empty(y.shape(), y.dtype(), y.device());
    cuda::rnn_mix_forward(ch, s, w, mixed);
    cuda::batch_norm_forward(mixed, Tensor(), Tensor(), running_mean, running_var, y, save_mean,
                             save_invstd, p);
    return;
  }
  cudaStream_t st = stream(ch.device());
  dispatch_float(ch.dtype(), "rnn_mix_batch_norm_forward", [&]<class scalar_t>() {
    const int64_t batch = s.size(1), hidden = s.size(2);
    with_row_groups(batch, [&]<int kRowGroups>() {
      mix_batch_norm_kernel<scalar_t, kRowGroups>
          <<<tile_blocks(hidden), TileThread<kRowGroups>::kBlock, 0, st>>>(
              ch.data<scalar_t>(), s.data<scalar_t>(), w.data<scalar_t>(), s.size(0), batch,
              hidden, p, data_or_null<scalar_t>(running_mean),
              data_or_null<scalar_t>(running_var), save_mean.data<scalar_t>(),
              save_invstd.data<scalar_t>(), y.data<scalar_t>());
    });
  });
  AN_CUDA_CHECK_LAUNCH();
}

void rnn_node_forward(const Tensor& ch, const Tensor& s, RnnActivation act, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t st = stream(ch.device());
  dispatch_float(ch.dtype(), "rnn_node_forward", [&]<class scalar_t>() {
    node_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, st>>>(
        ch.data<scalar_t>(), s.data<scalar_t>(), act, out.data<scalar_t>(), s.size(1), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void rnn_node_backward(const Tensor& ch, const Tensor& s, RnnActivation act, const Tensor& dout,
                       Tensor& dch, Tensor& ds) {
  const int64_t n = dout.numel();
  if (n == 0 || (!dch.defined() && !ds.defined())) return;
  cudaStream_t st = stream(ch.device());
  dispatch_float(ch.dtype(), "rnn_node_backward", [&]<class scalar_t>() {
    node_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, st>>>(
        ch.data<scalar_t>(), s.data<scalar_t>(), act, dout.data<scalar_t>(),
        dch.defined() ? dch.data<scalar_t>() : nullptr,
        ds.defined() ? ds.data<scalar_t>() : nullptr, s.size(1), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void rnn_mix_forward(const Tensor& ch, const Tensor& s, const Tensor& w, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t st = stream(ch.device());
  dispatch_float(ch.dtype(), "rnn_mix_forward", [&]<class scalar_t>() {
    mix_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, st>>>(
        ch.data<scalar_t>(), s.data<scalar_t>(), w.data<scalar_t>(), out.data<scalar_t>(),
        s.size(0), s.size(1), s.size(2));
  });
  AN_CUDA_CHECK_LAUNCH();
}

void rnn_mix_backward(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& dout,
                      Tensor& dch, Tensor& ds, Tensor& dw) {
  const int64_t n = dout.numel();
  const int64_t preds = s.size(0);
  if (n == 0 || (!dch.defined() && !ds.defined() && !dw.defined())) return;
  cudaStream_t st = stream(ch.device());
  // A grid fixed by n alone: the partials, and so dw, do not depend on the card.
  const unsigned blocks = std::min(grid_for(n, kThreads), kMaxPartialBlocks);
  dispatch_float(ch.dtype(), "rnn_mix_backward", [&]<class scalar_t>() {
    Tensor partials;
    if (dw.defined())
      partials = Tensor::empty({preds * kRnnActivations, static_cast<int64_t>(blocks)},
                               ch.dtype(), ch.device());
    scalar_t* pp = partials.defined() ? partials.data<scalar_t>() : nullptr;
    const dim3 grid(blocks, static_cast<unsigned>(preds));
    mix_backward_kernel<<<grid, kThreads, 0, st>>>(
        ch.data<scalar_t>(), s.data<scalar_t>(), w.data<scalar_t>(), dout.data<scalar_t>(),
        dch.defined() ? dch.data<scalar_t>() : nullptr,
        ds.defined() ? ds.data<scalar_t>() : nullptr, pp, s.size(1), s.size(2));
    AN_CUDA_CHECK_LAUNCH();
    if (pp) {
      // One block per (j, k): dw[j·4 + k] += Σ_blocks partials.
      add_partials_kernel<kThreads>
          <<<static_cast<unsigned>(preds * kRnnActivations), kThreads, 0, st>>>(
              pp, static_cast<int>(blocks), dw.data<scalar_t>());
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
