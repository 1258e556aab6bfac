// Public entries of the pool2d family: validate once, then dispatch to a twin.
#include "kernels/pool2d.h"
#include "kernels/op_cost.h"

#include <limits>

namespace autonet {

namespace {
void check_params(const Pool2dParams& p, const char* what) {
  AN_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1)
      << what << ": kernel must be at least 1×1, got " << p.kernel_h << "×" << p.kernel_w;
  AN_CHECK(p.stride_h >= 1 && p.stride_w >= 1)
      << what << ": stride must be at least 1, got " << p.stride_h << "×" << p.stride_w;
  AN_CHECK(p.pad_h >= 0 && p.pad_w >= 0)
      << what << ": padding must be non-negative, got " << p.pad_h << "×" << p.pad_w;
  // Larger padding would allow windows made only of padding: no max, nothing to average.
  AN_CHECK(2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w)
      << what << ": padding " << p.pad_h << "×" << p.pad_w << " exceeds half the kernel "
      << p.kernel_h << "×" << p.kernel_w;
}

void check_image(const Tensor& x, const char* what) {
  check_float_tensor(x, 4, what);
  AN_CHECK(x.size(2) * x.size(3) <= std::numeric_limits<int>::max())
      << what << ": image plane too large for the kernels' int coordinates: " << x.describe();
}
}  // namespace

Shape pool2d_out_shape(const Shape& x, const Pool2dParams& p) {
  AN_CHECK(x.size() == 4) << "pool2d: expected an NCHW shape, got " << shape_str(x);
  check_params(p, "pool2d");
  AN_CHECK(x[2] + 2 * p.pad_h >= p.kernel_h && x[3] + 2 * p.pad_w >= p.kernel_w)
      << "pool2d: kernel " << p.kernel_h << "×" << p.kernel_w << " larger than the padded input "
      << shape_str(x);
  const int64_t ho = (x[2] + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;  // floor mode
  const int64_t wo = (x[3] + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  return {x[0], x[1], ho, wo};
}

void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p) {
  check_image(x, "pool2d_forward: x");
  check_params(p, "pool2d_forward");
  check_matches(y, x, pool2d_out_shape(x.shape(), p), "pool2d_forward: y");
  count_op("pool2d_forward", [&] {
    if (y.numel() == 0) return OpCost{};
    return launch(bytes_of(x), bytes_of(y), y.numel() * p.kernel_h * p.kernel_w);
  });
  AN_ON_DEVICE(x.device(), cpu::pool2d_forward(x, y, p), cuda::pool2d_forward(x, y, p));
}

void pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                     const Pool2dParams& p) {
  check_image(x, "pool2d_backward: x");
  check_params(p, "pool2d_backward");
  const Shape out = pool2d_out_shape(x.shape(), p);
  // y is part of the contract but unused: max backward recomputes the arg-max from x.
  check_matches_if_defined(y, x, out, "pool2d_backward: y");
  check_matches(dy, x, out, "pool2d_backward: dy");
  if (!dx.defined()) return;
  check_matches(dx, x, x.shape(), "pool2d_backward: dx");
  // Max: an arg-max kernel writes each window's i32 index, then one kernel gathers dx.
  count_op("pool2d_backward", [&] {
    if (dx.numel() == 0) return OpCost{};
    const int64_t window = p.kernel_h * p.kernel_w;
    if (p.mode == PoolMode::avg || dy.numel() == 0)
      return launch(bytes_of(dy), bytes_of(dx), dx.numel() * window);
    const int64_t argmax = dy.numel() * 4;
    return launch(bytes_of(x), argmax, dy.numel() * window) +
           launch(bytes_of(dy) + argmax, bytes_of(dx), dx.numel() * window);
  });
  AN_ON_DEVICE(x.device(), cpu::pool2d_backward(x, y, dy, dx, p),
               cuda::pool2d_backward(x, y, dy, dx, p));
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  check_image(x, "global_avg_pool_forward: x");
  AN_CHECK(x.size(2) * x.size(3) >= 1) << "global_avg_pool_forward: empty image " << x.describe();
  check_matches(y, x, {x.size(0), x.size(1)}, "global_avg_pool_forward: y");
  count_op("global_avg_pool_forward", [&] {
    return y.numel() == 0 ? OpCost{} : launch(bytes_of(x), bytes_of(y), x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::global_avg_pool_forward(x, y), cuda::global_avg_pool_forward(x, y));
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx) {
  if (!dx.defined()) return;
  check_image(dx, "global_avg_pool_backward: dx");
  AN_CHECK(dx.size(2) * dx.size(3) >= 1)
      << "global_avg_pool_backward: empty image " << dx.describe();
  check_contiguous(dy, "global_avg_pool_backward: dy");
  check_matches(dy, dx, {dx.size(0), dx.size(1)}, "global_avg_pool_backward: dy");
  count_op("global_avg_pool_backward", [&] {
    return dx.numel() == 0 ? OpCost{} : launch(bytes_of(dy), bytes_of(dx), dx.numel());
  });
  AN_ON_DEVICE(dx.device(), cpu::global_avg_pool_backward(dy, dx),
               cuda::global_avg_pool_backward(dy, dx));
}

}  // namespace autonet
