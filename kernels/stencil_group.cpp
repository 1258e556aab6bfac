// Public entries of the stencil group: validate once, then dispatch to a twin.
#include "kernels/stencil_group.h"

#include <limits>
#include <string>

#include "kernels/op_cost.h"

namespace autonet {

namespace {
bool is_pool(const Stencil& s) { return s.kind == Stencil::Kind::pool; }

std::string stencil_name(const std::vector<Stencil>& stencils, size_t k) {
  return "stencil " + std::to_string(k) + (is_pool(stencils[k]) ? " (pool)" : " (depthwise)");
}

// Stencil k's output shape on x (the family's own checks, named after the stencil).
Shape stencil_out_shape(const Shape& x, const Shape& weight, const Stencil& s) {
  return is_pool(s) ? pool2d_out_shape(x, s.pool) : depthwise_conv2d_out_shape(x, weight, s.conv);
}

// x [N, C, H, W]; a filter of x's dtype and device per depthwise stencil, none per pool; every
// output of one shape, which is returned.
Shape check_group(const Tensor& x, const std::vector<Tensor>& weights,
                  const std::vector<Stencil>& stencils, const char* what) {
  const size_t k_count = stencils.size();
  AN_CHECK(k_count >= 1 && k_count <= kMaxStencils)
      << what << ": needs 1 to " << kMaxStencils << " stencils, got " << k_count;
  AN_CHECK(weights.size() == k_count)
      << what << ": " << weights.size() << " weights for " << k_count
      << " stencils (an undefined tensor for each pool)";
  check_float_tensor(x, 4, what);
  AN_CHECK(x.size(2) * x.size(3) <= std::numeric_limits<int>::max())
      << what << ": image plane too large for the kernels' int coordinates: " << x.describe();
  std::vector<Shape> shapes;
  for (size_t k = 0; k < k_count; ++k) {
    const std::string name = std::string(what) + ": " + stencil_name(stencils, k);
    AN_CHECK(weights[k].defined() != is_pool(stencils[k]))
        << name << (is_pool(stencils[k]) ? " takes no weight" : " needs a weight");
    if (weights[k].defined()) check_matches(weights[k], x, name.c_str());
    shapes.push_back(weights[k].defined() ? weights[k].shape() : Shape{});
  }
  return stencil_group_out_shape(x.shape(), shapes, stencils);
}
}  // namespace

Shape stencil_group_out_shape(const Shape& x, const std::vector<Shape>& weights,
                              const std::vector<Stencil>& stencils) {
  AN_CHECK(!stencils.empty() && weights.size() == stencils.size())
      << "stencil_group: " << weights.size() << " weight shapes for " << stencils.size()
      << " stencils";
  const Shape out = stencil_out_shape(x, weights[0], stencils[0]);
  for (size_t k = 1; k < stencils.size(); ++k) {
    const Shape shape = stencil_out_shape(x, weights[k], stencils[k]);
    AN_CHECK(shape == out) << "stencil_group: " << stencil_name(stencils, k) << " gives "
                           << shape_str(shape) << " where stencil 0 gives " << shape_str(out)
                           << "; a group's outputs share one shape";
  }
  return out;
}

void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils,
                           const std::vector<Tensor>& moments) {
  const char* what = "stencil_group_forward";
  const Shape out = check_group(x, weights, stencils, what);
  AN_CHECK(ys.size() == stencils.size())
      << what << ": " << ys.size() << " outputs for " << stencils.size() << " stencils";
  for (const Tensor& y : ys) check_matches(y, x, out, what);
  check_moment_list(moments, ys, what, "stencil");
  // One kernel: x (and the filters) read once, every output written (the moments summed from
  // the values in registers, 4 FLOPs a value).
  count_op(what, [&] {
    const int64_t n = shape_numel(out);
    if (n == 0) return OpCost{};
    int64_t read = bytes_of(x), written = 0, flops = 0;
    for (size_t k = 0; k < stencils.size(); ++k) {
      read += bytes_of(weights[k]);
      written += bytes_of(ys[k]);
      flops += is_pool(stencils[k]) ? stencils[k].pool.kernel_h * stencils[k].pool.kernel_w * n
                                    : 2 * weights[k].size(2) * weights[k].size(3) * n;
      if (has_parts(moments, k)) {
        written += bytes_of(moments[k]);
        flops += 4 * n;
      }
    }
    return launch(read, written, flops);
  });
  AN_ON_DEVICE(x.device(), cpu::stencil_group_forward(x, weights, ys, stencils, moments),
               cuda::stencil_group_forward(x, weights, ys, stencils, moments));
}

void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode) {
  const char* what = "stencil_group_backward";
  const Shape out = check_group(x, weights, stencils, what);
  const size_t k_count = stencils.size();
  AN_CHECK(dys.size() == k_count && dweights.size() == k_count)
      << what << ": " << dys.size() << " output gradients and " << dweights.size()
      << " weight gradients for " << k_count << " stencils (undefined tensors where none)";
  for (size_t k = 0; k < k_count; ++k) {
    const std::string name = std::string(what) + ": " + stencil_name(stencils, k);
    check_matches_if_defined(dys[k], x, out, (name + " dy").c_str());
    AN_CHECK(!dweights[k].defined() || !is_pool(stencils[k])) << name << " has no weight gradient";
    if (dweights[k].defined()) check_matches(dweights[k], x, weights[k].shape(), name.c_str());
  }
  check_matches_if_defined(dx, x, x.shape(), "stencil_group_backward: dx");
  // One launch forms every wanted dw while the dx kernel runs: no dw may share memory with another
  // (both would add into it at once) or with what either kernel reads or writes.
  for (size_t k = 0; k < k_count; ++k) {
    if (!dweights[k].defined()) continue;
    const std::string name = std::string(what) + ": " + stencil_name(stencils, k) + " dw";
    for (size_t j = k + 1; j < k_count; ++j)
      AN_CHECK(!dweights[j].defined() || !overlaps(dweights[k], dweights[j]))
          << name << " shares memory with " << stencil_name(stencils, j)
          << "'s: each stencil needs a weight gradient of its own";
    AN_CHECK(!overlaps(dweights[k], x) && !(dx.defined() && overlaps(dweights[k], dx)))
        << name << " overlaps x or dx";
    for (size_t j = 0; j < k_count; ++j)
      AN_CHECK(!(weights[j].defined() && overlaps(dweights[k], weights[j])) &&
               !(dys[j].defined() && overlaps(dweights[k], dys[j])))
          << name << " overlaps " << stencil_name(stencils, j) << "'s weight or dy";
  }
  // The dx kernel gathers every stencil's contribution (reading x for the folded ReLUs' masks and
  // the max pools' arg-max); the weight kernel forms every wanted dw (a cluster per stencil and
  // channel).
  count_op(what, [&] {
    const int64_t n = shape_numel(out);
    int64_t dx_read = bytes_of(dx_mode == GradMode::Accumulate ? dx : Tensor());
    int64_t dx_flops = 0, dw_read = 0, dw_written = 0, dw_flops = 0;
    bool reads_x = false;
    for (size_t k = 0; k < k_count; ++k) {
      if (!dys[k].defined()) continue;
      const Stencil& s = stencils[k];
      const int64_t taps = is_pool(s) ? s.pool.kernel_h * s.pool.kernel_w
                                      : weights[k].size(2) * weights[k].size(3);
      dx_read += bytes_of(dys[k], weights[k]);
      dx_flops += (is_pool(s) ? 1 : 2) * taps * n;
      reads_x = reads_x || (is_pool(s) ? s.pool.mode == PoolMode::max : s.conv.relu_input);
      if (dweights[k].defined()) {
        dw_read += bytes_of(dys[k], dweights[k]);
        dw_written += bytes_of(dweights[k]);
        dw_flops += 2 * taps * n;
      }
    }
    OpCost cost;
    if (dx.defined() && dx.numel() > 0)
      cost += launch(dx_read + (reads_x ? bytes_of(x) : 0), bytes_of(dx), dx_flops);
    if (dw_written > 0 && n > 0)
      cost += on_side_stream(launch(dw_read + bytes_of(x), dw_written, dw_flops));
    return cost;
  });
  AN_ON_DEVICE(x.device(),
               cpu::stencil_group_backward(x, weights, dys, dx, dweights, stencils, dx_mode),
               cuda::stencil_group_backward(x, weights, dys, dx, dweights, stencils, dx_mode));
}

}  // namespace autonet
