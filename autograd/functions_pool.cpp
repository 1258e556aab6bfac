// Max, average and global average pooling.
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable pool2d(const Variable& x, const Pool2dParams& p) {
  Tensor y = empty_as(pool2d_out_shape(x.shape(), p), x.value());
  pool2d_forward(x.value(), y, p);
  const TensorSpec x_spec = TensorSpec::of(x.value());
  // Max backward recomputes the arg-max from x, so the output is not kept; average backward reads
  // neither, so it keeps only x's shape and hands the kernel an uninitialised stand-in for x.
  const bool is_max = p.mode == PoolMode::max;
  const Tensor keep_x = is_max ? x.value() : Tensor();
  // A consumer that needs y in backward rebuilds it from x (the mixed op keeps x for its other
  // candidates anyway) rather than keeping it.
  const Tensor xv = x.value();
  const Shape y_shape = y.shape();
  return make_result(
      is_max ? "max_pool2d" : "avg_pool2d", y, {x},
      [=](const Tensor& dy, const SlotList& in) {
        mode_grad(*in[0], x_spec, [&](Tensor& dx, GradMode mode) {
          pool2d_backward(is_max ? keep_x : empty_of(x_spec), dy, dx, p, mode);
        });
      },
      [xv, y_shape, p] {
        Tensor again = empty_as(y_shape, xv);
        pool2d_forward(xv, again, p);
        return again;
      });
}

Variable max_pool2d(const Variable& x, int64_t kernel, int64_t stride, int64_t pad) {
  Pool2dParams p;
  p.mode = PoolMode::max;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  return pool2d(x, p);
}

Variable avg_pool2d(const Variable& x, int64_t kernel, int64_t stride, int64_t pad,
                    bool count_include_pad) {
  Pool2dParams p;
  p.mode = PoolMode::avg;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.count_include_pad = count_include_pad;
  return pool2d(x, p);
}

Variable global_avg_pool(const Variable& x) {
  AN_CHECK(x.dim() == 4) << "global_avg_pool expects [N, C, H, W], got " << x.value().describe();
  Tensor y = empty_as({x.size(0), x.size(1)}, x.value());
  global_avg_pool_forward(x.value(), y);
  const TensorSpec x_spec = TensorSpec::of(x.value());
  return make_result("global_avg_pool", y, {x}, [x_spec](const Tensor& dy, const SlotList& in) {
    write_grad(*in[0], x_spec, [&](Tensor& dx) { global_avg_pool_backward(dy, dx); });
  });
}

}  // namespace autonet
