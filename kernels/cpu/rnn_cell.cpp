// CPU reference of the RNN cell's node step (kernels/rnn_cell.h): plain loops over the elements,
// the formulas in kernels/rnn_cell_math.h; the α-side reduction dw adds its rows in double.
#include <algorithm>
#include <array>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/rnn_cell.h"
#include "kernels/rnn_cell_math.h"

AN_CPU_KERNELS_BEGIN
namespace {
// An element of a node costs two or three exp/tanh: from this many (predecessor, element) pairs
// on, a second thread pays for waking it (measured on 2 cores: 1,024 beat 2,048, 4,096 and more;
// the search's small cell, 32 × 64 values, ran serially below the element-wise ops' 65,536).
constexpr int64_t kParallelNodeWork = 1024;
// The mix's dw sums, per predecessor, run over chunks of whole rows of about this many elements
// whose double partial sums are added in chunk order: the same sums whatever the number of
// threads.
constexpr int64_t kDotChunk = 512;

// One row of the mix's backward for one predecessor: dc, dh (when kDch), ds (when kDs) and the
// activations' values u_k (activation-major). A function of its own, its pointers restricted and
// w copied in, so that the loop vectorises (in the kernel's loop GCC would need more run-time
// overlap checks than it makes).
template <class T, bool kDch, bool kDs>
void mix_grad_row(const T* __restrict w, const T* __restrict c_row, const T* __restrict h_row,
                  const T* __restrict s_row, const T* __restrict g_row, T* __restrict dc_row,
                  T* __restrict dh_row, T* __restrict ds_row, T* __restrict u, int64_t hidden) {
  T wl[kRnnActivations];
  for (int k = 0; k < kRnnActivations; ++k) wl[k] = w[k];
  for (int64_t h = 0; h < hidden; ++h) {
    T dc, dh, ds, uh[kRnnActivations];
    rnn_mix_grad(wl, c_row[h], h_row[h], s_row[h], g_row[h], dc, dh, ds, uh);
    if constexpr (kDch) dc_row[h] = dc, dh_row[h] = dh;
    if constexpr (kDs) ds_row[h] = ds;
    for (int k = 0; k < kRnnActivations; ++k) u[k * hidden + h] = uh[k];
  }
}

// Rows [b0, b1) of the mix's backward for one predecessor (its ch, s, dch and ds; dch, ds null
// where not wanted): the gradients row by row, and Σ g·u_k over the rows in double, each row's
// four sums in 16 fixed float lanes (one order on every instruction set, whatever the number of
// threads; a lane adds nhid/16 products: 4 at nhid 64, 19 at 300).
// u: room for a row's u_k.
template <class T>
std::array<double, kRnnActivations> mix_grad_rows(const T* w, const T* ch, const T* s, const T* g,
                                                  T* dch, T* ds, int64_t b0, int64_t b1,
                                                  int64_t hidden, T* u) {
  std::array<double, kRnnActivations> dot{};
  for (int64_t b = b0; b < b1; ++b) {
    const T *c_row = ch + b * 2 * hidden, *s_row = s + b * hidden, *g_row = g + b * hidden;
    T* dc_row = dch ? dch + b * 2 * hidden : nullptr;
    T* dh_row = dch ? dc_row + hidden : nullptr;
    T* ds_row = ds ? ds + b * hidden : nullptr;
    auto row_grads = [&]<bool kDch, bool kDs>() {
      mix_grad_row<T, kDch, kDs>(w, c_row, c_row + hidden, s_row, g_row, dc_row, dh_row, ds_row, u,
                                 hidden);
    };
    if (dch && ds)
      row_grads.template operator()<true, true>();
    else if (dch)
      row_grads.template operator()<true, false>();
    else if (ds)
      row_grads.template operator()<false, true>();
    else
      row_grads.template operator()<false, false>();
    for (int k = 0; k < kRnnActivations; ++k) {
      const T* u_k = u + k * hidden;
      dot[k] += sum_in_lanes<16, T>(hidden, [&](int64_t h) { return g_row[h] * u_k[h]; });
    }
  }
  return dot;
}
}  // namespace

void rnn_node_forward(const Tensor& ch, const Tensor& s, RnnActivation act, Tensor& out) {
  dispatch_float(ch.dtype(), "rnn_node_forward", [&]<class scalar_t>() {
    const int64_t batch = s.size(0), hidden = s.size(1);
    const scalar_t* pch = ch.data<scalar_t>();  // [B, 2H]
    const scalar_t* ps = s.data<scalar_t>();    // [B, H]
    scalar_t* po = out.data<scalar_t>();        // [B, H]
#pragma omp parallel for if (batch * hidden > kParallelNodeWork)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < hidden; ++h) {
        const scalar_t* row = pch + b * 2 * hidden;
        po[b * hidden + h] = rnn_node_value(act, row[h], row[hidden + h], ps[b * hidden + h]);
      }
  });
}

void rnn_node_backward(const Tensor& ch, const Tensor& s, RnnActivation act, const Tensor& dout,
                       Tensor& dch, Tensor& ds) {
  dispatch_float(ch.dtype(), "rnn_node_backward", [&]<class scalar_t>() {
    const int64_t batch = s.size(0), hidden = s.size(1);
    const scalar_t* pch = ch.data<scalar_t>();
    const scalar_t* ps = s.data<scalar_t>();
    const scalar_t* pg = dout.data<scalar_t>();
    scalar_t* pdch = dch.defined() ? dch.data<scalar_t>() : nullptr;
    scalar_t* pds = ds.defined() ? ds.data<scalar_t>() : nullptr;
#pragma omp parallel for if (batch * hidden > kParallelNodeWork)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < hidden; ++h) {
        const int64_t i = b * hidden + h, c_at = b * 2 * hidden + h;
        scalar_t dc, dh, dsv;
        rnn_node_grad(act, pch[c_at], pch[c_at + hidden], ps[i], pg[i], dc, dh, dsv);
        if (pdch) {
          pdch[c_at] = dc;
          pdch[c_at + hidden] = dh;
        }
        if (pds) pds[i] = dsv;
      }
  });
}

void rnn_mix_forward(const Tensor& ch, const Tensor& s, const Tensor& w, Tensor& out) {
  dispatch_float(ch.dtype(), "rnn_mix_forward", [&]<class scalar_t>() {
    const int64_t preds = s.size(0), batch = s.size(1), hidden = s.size(2);
    const scalar_t* pch = ch.data<scalar_t>();  // [J, B, 2H]
    const scalar_t* ps = s.data<scalar_t>();    // [J, B, H]
    const scalar_t* pw = w.data<scalar_t>();    // [J, 4]
    scalar_t* po = out.data<scalar_t>();        // [B, H]
#pragma omp parallel for if (preds * batch * hidden > kParallelNodeWork)
    for (int64_t b = 0; b < batch; ++b) {
      // Predecessor by predecessor over the row (a loop over h vectorises), each element's sum
      // still in predecessor order.
      scalar_t* out_row = po + b * hidden;
      for (int64_t h = 0; h < hidden; ++h) out_row[h] = 0;
      for (int64_t j = 0; j < preds; ++j) {
        const scalar_t* row = pch + (j * batch + b) * 2 * hidden;
        const scalar_t* s_row = ps + (j * batch + b) * hidden;
        const scalar_t* wj = pw + j * kRnnActivations;
        for (int64_t h = 0; h < hidden; ++h)
          out_row[h] += rnn_mix_value(wj, row[h], row[hidden + h], s_row[h]);
      }
    }
  });
}

void rnn_mix_backward(const Tensor& ch, const Tensor& s, const Tensor& w, const Tensor& dout,
                      Tensor& dch, Tensor& ds, Tensor& dw) {
  dispatch_float(ch.dtype(), "rnn_mix_backward", [&]<class scalar_t>() {
    const int64_t preds = s.size(0), batch = s.size(1), hidden = s.size(2);
    const int64_t n = batch * hidden;
    const scalar_t* pch = ch.data<scalar_t>();
    const scalar_t* ps = s.data<scalar_t>();
    const scalar_t* pw = w.data<scalar_t>();
    const scalar_t* pg = dout.data<scalar_t>();
    scalar_t* pdch = dch.defined() ? dch.data<scalar_t>() : nullptr;
    scalar_t* pds = ds.defined() ? ds.data<scalar_t>() : nullptr;
    scalar_t* pdw = dw.defined() ? dw.data<scalar_t>() : nullptr;
    // Σ dout · u_k over chunk c (rows_per_chunk rows) of predecessor j's elements, in double:
    // dots[j · chunks + c].
    const int64_t rows_per_chunk = std::max<int64_t>(1, kDotChunk / std::max<int64_t>(hidden, 1));
    const int64_t chunks = (batch + rows_per_chunk - 1) / rows_per_chunk;
    std::vector<std::array<double, kRnnActivations>> dots(preds * chunks);
#pragma omp parallel if (preds * n > kParallelNodeWork)
    {
      std::vector<scalar_t> u(kRnnActivations * hidden);  // a thread's room for a row's u_k
#pragma omp for
      for (int64_t task = 0; task < preds * chunks; ++task) {
        const int64_t j = task / chunks, b0 = task % chunks * rows_per_chunk;
        const int64_t jb = j * batch;  // predecessor j's first row
        dots[task] = mix_grad_rows(pw + j * kRnnActivations, pch + jb * 2 * hidden,
                                   ps + jb * hidden, pg, pdch ? pdch + jb * 2 * hidden : nullptr,
                                   pds ? pds + jb * hidden : nullptr, b0,
                                   std::min(batch, b0 + rows_per_chunk), hidden, u.data());
      }
    }
    if (pdw)
      for (int64_t j = 0; j < preds; ++j) {
        std::array<double, kRnnActivations> dot{};
        for (int64_t c = 0; c < chunks; ++c)
          for (int k = 0; k < kRnnActivations; ++k) dot[k] += dots[j * chunks + c][k];
        for (int k = 0; k < kRnnActivations; ++k)
          pdw[j * kRnnActivations + k] += static_cast<scalar_t>(dot[k]);
      }
  });
}

// The mix into a column buffer, then batch norm's twin on it: the two ops' results bit for bit.
void rnn_mix_batch_norm_forward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                Tensor& running_mean, Tensor& running_var, Tensor& y,
                                Tensor& save_mean, Tensor& save_invstd, const BatchNormParams& p) {
  Tensor mixed = Tensor::empty(y.shape(), y.dtype());
  cpu::rnn_mix_forward(ch, s, w, mixed);
  cpu::batch_norm_forward(mixed, Tensor(), Tensor(), running_mean, running_var, y, save_mean,
                          save_invstd, p);
}

// The BN's backward into a column buffer, then the mix's: the two ops' results bit for bit.
void rnn_mix_batch_norm_backward(const Tensor& ch, const Tensor& s, const Tensor& w,
                                 const Tensor& y, const Tensor& save_mean,
                                 const Tensor& save_invstd, const Tensor& dy, Tensor& dch,
                                 Tensor& ds, Tensor& dw, const BatchNormParams& p) {
  Tensor dmix = Tensor::empty(y.shape(), y.dtype()), none;
  cpu::batch_norm_backward(y, none, save_mean, save_invstd, dy, dmix, none, none, p);
  cpu::rnn_mix_backward(ch, s, w, dmix, dch, ds, dw);
}

AN_CPU_KERNELS_END
