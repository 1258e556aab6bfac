// CPU twin of batch normalisation: per channel, the statistics in one pass (shifted sums in
// double, batch_norm_math.h), then the elementwise normalisation in the tensor's precision;
// backward likewise: Σdy and Σdy·x̂ in one pass, then dx.
#include <vector>

#include "kernels/batch_norm_math.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
// An [N, C] input (BatchNorm1d: the recurrent cell's [batch, nhid] states) below the threads'
// threshold, row by row: a channel is a column, and walked alone it was a chain of dependent
// double adds at stride C (10 µs for the small cell's 32 × 64). Row by row, each channel's sums
// run over n in the same order, so the results are the per-channel loops' bit for bit, and the
// loops over a row vectorise across channels.
bool by_rows(const BnDims& d) {
  return d.S == 1 && d.N * d.C <= 65536;
}

template <class T>
void forward_rows(const T* x, const BnDims& d, const BatchNormParams& p, const T* weight,
                  const T* bias, T* running_mean, T* running_var, T* y, T* save_mean,
                  T* save_invstd) {
  const int64_t N = d.N, C = d.C;
  std::vector<double> shift(C), sum(C, 0.0), squares(C, 0.0);
  if (p.training) {
    for (int64_t c = 0; c < C; ++c) shift[c] = static_cast<double>(x[c]);  // channel_moments'
    double* __restrict ps = sum.data(), * __restrict pq = squares.data();
    const double* __restrict pshift = shift.data();
    for (int64_t n = 0; n < N; ++n)
#pragma omp simd  // the channels' sums apart: each still adds its n in order
      for (int64_t c = 0; c < C; ++c) {
        const double dv = static_cast<double>(x[n * C + c]) - pshift[c];
        ps[c] += dv;
        pq[c] += dv * dv;
      }
  }
  for (int64_t c = 0; c < C; ++c) {
    ShiftedMoments moments;
    moments.shift = shift[c], moments.sum = sum[c], moments.squares = squares[c];
    bn_pass_stats(moments, static_cast<double>(N), p, running_mean ? running_mean + c : nullptr,
                  running_var ? running_var + c : nullptr, save_mean[c], save_invstd[c]);
  }
  if (!y) return;
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t c = 0; c < C; ++c)
      y[n * C + c] = bn_output(x[n * C + c], save_mean[c], save_invstd[c],
                               weight ? weight[c] : T(1), bias ? bias[c] : T(0));
}

template <class T>
void backward_rows(const T* saved, const T* dy, const BnDims& d, const BatchNormParams& p,
                   const T* weight, const T* save_mean, const T* save_invstd, T* dx, T* dweight,
                   T* dbias) {
  const int64_t N = d.N, C = d.C;
  std::vector<double> sum_dy(C, 0.0), sum_dy_xhat(C, 0.0);
  // Each choice a loop of its own (one loop choosing per element would not vectorise).
  double* __restrict pg = sum_dy.data(), * __restrict pgx = sum_dy_xhat.data();
  auto sums = [&](auto xhat_of) {
    for (int64_t n = 0; n < N; ++n)
#pragma omp simd  // the channels' sums apart: each still adds its n in order
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = n * C + c;
        pg[c] += dy[i];
        pgx[c] += static_cast<double>(dy[i]) * xhat_of(saved[i], c);
      }
  };
  if (p.backward_from_output)
    sums([](T v, int64_t) { return v; });
  else
    sums([&](T v, int64_t c) { return bn_xhat(v, save_mean[c], save_invstd[c]); });
  for (int64_t c = 0; c < C; ++c) {
    if (dbias) dbias[c] += static_cast<T>(sum_dy[c]);
    if (dweight) dweight[c] += static_cast<T>(sum_dy_xhat[c]);
  }
  if (!dx) return;
  const double m = static_cast<double>(N);
  std::vector<T> w(C), mean_dy(C), mean_dy_xhat(C);
  for (int64_t c = 0; c < C; ++c) {
    w[c] = weight ? weight[c] : T(1);
    mean_dy[c] = static_cast<T>(sum_dy[c] / m),
    mean_dy_xhat[c] = static_cast<T>(sum_dy_xhat[c] / m);
  }
  auto rows = [&](auto dx_of) {
    for (int64_t n = 0; n < N; ++n)
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) dx[n * C + c] = dx_of(n * C + c, c);
  };
  if (!p.training)
    rows([&](int64_t i, int64_t c) { return bn_input_grad_eval(dy[i], save_invstd[c], w[c]); });
  else if (p.backward_from_output)
    rows([&](int64_t i, int64_t c) {
      return bn_input_grad_train(dy[i], saved[i], save_invstd[c], w[c], mean_dy[c],
                                 mean_dy_xhat[c]);
    });
  else
    rows([&](int64_t i, int64_t c) {
      return bn_input_grad_train(dy[i], bn_xhat(saved[i], save_mean[c], save_invstd[c]),
                                 save_invstd[c], w[c], mean_dy[c], mean_dy_xhat[c]);
    });
}
}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_forward", [&]<class T>() {
    const BnDims d(x);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T *pw = data_or_null<T>(weight), *pb = data_or_null<T>(bias);
    T *prm = data_or_null<T>(running_mean), *prv = data_or_null<T>(running_var);
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    if (by_rows(d)) return forward_rows(px, d, p, pw, pb, prm, prv, py, psm, psi);
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c)
      bn_forward_channel(px, d, c, p, pw, pb, prm, prv, py, psm, psi);
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const BnDims d(x);
    const T *px = x.data<T>(), *pdy = dy.data<T>(), *pw = data_or_null<T>(weight);
    const T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    T* pdx = data_or_null<T>(dx);
    T *pdw = data_or_null<T>(dweight), *pdb = data_or_null<T>(dbias);
    if (by_rows(d)) return backward_rows(px, pdy, d, p, pw, psm, psi, pdx, pdw, pdb);
#pragma omp parallel for if (d.N * d.C * d.S > 65536)
    for (int64_t c = 0; c < d.C; ++c)
      bn_backward_channel(px, pdy, d, c, p, pw, psm, psi, pdx, pdw, pdb);
  });
}

AN_CPU_KERNELS_END
