// CPU reference of the softmax family: one row at a time, row sums in double.
#include <cmath>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/softmax_math.h"

AN_CPU_KERNELS_BEGIN

namespace {
// max(x[0], ..., x[n − 1]) in 16 lanes, so that it vectorises: a maximum is exact in any order.
template <class T>
T row_max(const T* x, int64_t n) {
  constexpr int kLanes = 16;
  auto larger = [](T a, T b) { return b > a ? b : a; };
  T lanes[kLanes];
  for (int l = 0; l < kLanes; ++l) lanes[l] = x[0];  // a NaN first value stays the maximum
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) lanes[l] = larger(lanes[l], x[c + l]);
  for (; c < n; ++c) lanes[0] = larger(lanes[0], x[c]);
  T m = lanes[0];
  for (int l = 1; l < kLanes; ++l) m = larger(m, lanes[l]);
  return m;
}

// x [rows, cols] → y along each row: softmax or log-softmax, stable (the row maximum subtracted).
template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
#pragma omp parallel for if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    // Σ exp in fixed lanes of double: the exps vectorise.
    const double sum_exp = sum_in_lanes<8, double>(
        cols, [&](int64_t c) { return static_cast<double>(exp_value(xr[c] - m)); });
    // One loop per kind: a choice inside the loop kept it scalar.
    if (log) {
      const double log_sum_exp = std::log(sum_exp);
      for (int64_t c = 0; c < cols; ++c) yr[c] = log_softmax_value(xr[c], m, log_sum_exp);
    } else {
      for (int64_t c = 0; c < cols; ++c) yr[c] = softmax_value(xr[c], m, sum_exp);
    }
  }
}

// Targets are read on the host here, so a bad label is reported with its row.
void check_targets(const Tensor& targets, int64_t classes, const char* what) {
  const int64_t* t = targets.data<int64_t>();
  for (int64_t i = 0; i < targets.numel(); ++i)
    AN_CHECK(t[i] >= 0 && t[i] < classes)
        << what << ": target " << t[i] << " of row " << i << " is outside [0, " << classes << ")";
}
}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, bool log) {
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  dispatch_float(x.dtype(), "softmax_forward", [&]<class scalar_t>() {
    softmax_rows(x.data<scalar_t>(), y.data<scalar_t>(), rows, cols, log);
  });
}

// An added row is formed apart and then added, so old + it rounds once and exactly as writing it
// and adding it with axpby does (no multiply-add can fuse the two).
void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, bool log, GradMode dx_mode) {
  const int64_t cols = y.size(-1), rows = y.numel() / cols;
  const bool accumulate = dx_mode == GradMode::Accumulate;
  dispatch_float(y.dtype(), "softmax_backward", [&]<class scalar_t>() {
    const scalar_t* py = y.data<scalar_t>();  // y, dy, dx [rows, cols]
    const scalar_t* pdy = dy.data<scalar_t>();
    scalar_t* pdx = dx.data<scalar_t>();
#pragma omp parallel if (rows * cols > 65536)
    {
      std::vector<scalar_t> apart(accumulate ? cols : 0);
#pragma omp for
      for (int64_t r = 0; r < rows; ++r) {
        const scalar_t *yr = py + r * cols, *dyr = pdy + r * cols;
        // Σ dy (log-softmax) or Σ dy·y in fixed lanes of double, and one loop per kind: a serial
        // sum or a choice inside the loop kept them scalar.
        const double dot =
            log ? sum_in_lanes<8, double>(cols, [&](int64_t c) { return double(dyr[c]); })
                : sum_in_lanes<8, double>(cols, [&](int64_t c) { return double(dyr[c]) * yr[c]; });
        scalar_t* dxr = pdx + r * cols;
        scalar_t* out = accumulate ? apart.data() : dxr;
        if (log)
          for (int64_t c = 0; c < cols; ++c) out[c] = log_softmax_grad(yr[c], dyr[c], dot);
        else
          for (int64_t c = 0; c < cols; ++c) out[c] = softmax_grad(yr[c], dyr[c], dot);
        if (accumulate)
          for (int64_t c = 0; c < cols; ++c) dxr[c] += out[c];
      }
    }
  });
}

void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& loss,
                           Tensor& log_probs, double label_smoothing) {
  const int64_t n = logits.size(0), classes = logits.size(1);
  check_targets(targets, classes, "cross_entropy_forward");
  const int64_t* t = targets.data<int64_t>();
  dispatch_float(logits.dtype(), "cross_entropy_forward", [&]<class scalar_t>() {
    scalar_t* lp = log_probs.data<scalar_t>();  // [N, C]
    softmax_rows(logits.data<scalar_t>(), lp, n, classes, /*log=*/true);
    // Rows' losses in parallel, summed in row order. Σ_c logp[c] only counts with smoothing.
    std::vector<double> row_loss(n);
#pragma omp parallel for if (label_smoothing != 0 && n * classes > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t* row = lp + i * classes;
      const double sum_log_probs =  // in fixed lanes: a serial sum of doubles stays scalar
          label_smoothing == 0
              ? 0.0
              : sum_in_lanes<8, double>(classes, [&](int64_t c) { return double(row[c]); });
      row_loss[i] =
          cross_entropy_row_loss(lp[i * classes + t[i]], sum_log_probs, classes, label_smoothing);
    }
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += row_loss[i];
    loss.data<scalar_t>()[0] = static_cast<scalar_t>(total / n);
  });
}

void cross_entropy_backward(const Tensor& log_probs, const Tensor& targets, const Tensor& dloss,
                            Tensor& dlogits, double label_smoothing) {
  const int64_t n = log_probs.size(0), classes = log_probs.size(1);
  check_targets(targets, classes, "cross_entropy_backward");
  const int64_t* t = targets.data<int64_t>();
  dispatch_float(log_probs.dtype(), "cross_entropy_backward", [&]<class scalar_t>() {
    const scalar_t* lp = log_probs.data<scalar_t>();  // [N, C]
    scalar_t* g = dlogits.data<scalar_t>();            // [N, C]
    const double scale = static_cast<double>(dloss.data<scalar_t>()[0]) / n;
#pragma omp parallel for if (n * classes > 65536)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < classes; ++c)
        g[i * classes + c] = cross_entropy_grad(lp[i * classes + c], c == t[i], scale, classes,
                                                label_smoothing);
  });
}

void nll_forward(const Tensor& log_probs, const Tensor& targets, Tensor& loss) {
  const int64_t n = log_probs.size(0), classes = log_probs.size(1);
  check_targets(targets, classes, "nll_forward");
  const int64_t* t = targets.data<int64_t>();
  dispatch_float(log_probs.dtype(), "nll_forward", [&]<class scalar_t>() {
    const scalar_t* lp = log_probs.data<scalar_t>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total -= lp[i * classes + t[i]];
    loss.data<scalar_t>()[0] = static_cast<scalar_t>(total / n);
  });
}

void nll_backward(const Tensor& targets, const Tensor& dloss, Tensor& dlog_probs) {
  const int64_t n = dlog_probs.size(0), classes = dlog_probs.size(1);
  check_targets(targets, classes, "nll_backward");
  const int64_t* t = targets.data<int64_t>();
  dispatch_float(dlog_probs.dtype(), "nll_backward", [&]<class scalar_t>() {
    scalar_t* g = dlog_probs.data<scalar_t>();  // [N, C]
    const scalar_t value = static_cast<scalar_t>(-static_cast<double>(dloss.data<scalar_t>()[0]) / n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < classes; ++c) g[i * classes + c] = c == t[i] ? value : scalar_t(0);
  });
}

AN_CPU_KERNELS_END
