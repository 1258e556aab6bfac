// Public entries of the concat family: validate once, then dispatch to a twin.
#include "kernels/concat.h"

#include "kernels/concat_math.h"
#include "kernels/op_cost.h"

namespace autonet {

namespace {
// Concat and split launch once per kConcatPartsPerLaunch non-empty parts, each moving its parts'
// elements between the parts and the whole.
OpCost concat_cost(const Tensor& whole, const std::vector<Tensor>& parts, int64_t axis) {
  const ConcatGeometry g = concat_geometry(whole.shape(), parts, axis);
  if (g.outer * g.inner == 0) return {};
  int64_t moving = 0, elements = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k].defined() || g.axis_sizes[k] == 0) continue;
    ++moving;
    elements += g.outer * g.axis_sizes[k] * g.inner;
  }
  const int64_t bytes = elements * static_cast<int64_t>(dtype_size(whole.dtype()));
  return {(moving + kConcatPartsPerLaunch - 1) / kConcatPartsPerLaunch, bytes, bytes, 0};
}

// Every part agrees with `whole` (y or dy) on dtype, device and every dimension but `axis`, and
// the parts' extents along the axis add up to whole's; at most `max_undefined` parts are undefined.
// Returns the axis counted from the front.
int64_t check_parts(const Tensor& whole, const std::vector<Tensor>& parts, int64_t axis_arg,
                    int max_undefined, const char* what) {
  check_contiguous(whole, what);
  check_float(whole, what);
  const int64_t axis = normalize_axis(axis_arg, whole.dim(), what);
  AN_CHECK(!parts.empty()) << what << ": no tensors to concatenate";
  int64_t total = 0;
  int undefined = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const Tensor& t = parts[k];
    if (!t.defined()) {
      ++undefined;
      continue;
    }
    check_matches(t, whole, what);
    Shape expected = whole.shape();
    expected[axis] = t.dim() == whole.dim() ? t.size(axis) : -1;
    AN_CHECK(t.shape() == expected) << what << ": part " << k << " " << t.describe()
                                    << " does not match " << whole.describe() << " outside axis "
                                    << axis;
    total += t.size(axis);
  }
  AN_CHECK(undefined <= max_undefined)
      << what << ": " << undefined << " undefined parts; at most " << max_undefined
      << " can be inferred";
  AN_CHECK(undefined == 1 ? total <= whole.size(axis) : total == whole.size(axis))
      << what << ": parts span " << total << " along axis " << axis << ", but "
      << whole.describe() << " spans " << whole.size(axis);
  return axis;
}

void check_slice(const Tensor& x, const Tensor& y, const Slice2dParams& p, const char* what) {
  check_float_tensor(x, 4, what);
  check_matches(y, x, what);
  AN_CHECK(p.offset_h >= 0 && p.offset_w >= 0 && p.stride_h >= 1 && p.stride_w >= 1 &&
           p.out_h >= 1 && p.out_w >= 1)
      << what << ": bad slice offsets (" << p.offset_h << ", " << p.offset_w << "), strides ("
      << p.stride_h << ", " << p.stride_w << ") or output size (" << p.out_h << ", " << p.out_w
      << ")";
  const int64_t last_h = p.offset_h + (p.out_h - 1) * p.stride_h;
  const int64_t last_w = p.offset_w + (p.out_w - 1) * p.stride_w;
  AN_CHECK(last_h < x.size(2) && last_w < x.size(3))
      << what << ": the slice reads row " << last_h << " and column " << last_w << " of "
      << x.describe();
  check_shape(y, {x.size(0), x.size(1), p.out_h, p.out_w}, what);
}
}  // namespace

void concat_forward(const std::vector<Tensor>& xs, int64_t axis, Tensor& y) {
  const char* what = "concat_forward";
  const int64_t k = check_parts(y, xs, axis, /*max_undefined=*/0, what);
  count_op(what, [&] { return concat_cost(y, xs, k); });
  AN_ON_DEVICE(y.device(), cpu::concat_forward(xs, k, y), cuda::concat_forward(xs, k, y));
}

void concat_backward(const Tensor& dy, int64_t axis, std::vector<Tensor>& dxs,
                     const std::vector<GradMode>& dx_modes) {
  const char* what = "concat_backward";
  const int64_t k = check_parts(dy, dxs, axis, /*max_undefined=*/1, what);
  AN_CHECK(dx_modes.empty() || dx_modes.size() == dxs.size())
      << what << ": " << dx_modes.size() << " dx modes for " << dxs.size() << " parts";
  int64_t added = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    if (!dxs[i].defined()) continue;
    for (size_t j = i + 1; j < dxs.size(); ++j)
      AN_CHECK(!dxs[j].defined() || !overlaps(dxs[i], dxs[j]))
          << what << ": parts " << i << " and " << j << " write into the same memory";
    AN_CHECK(!overlaps(dxs[i], dy)) << what << ": part " << i << " overlaps dy";
    if (!dx_modes.empty() && dx_modes[i] == GradMode::Accumulate) added += bytes_of(dxs[i]);
  }
  count_op(what, [&] {  // an added part is read too
    OpCost cost = concat_cost(dy, dxs, k);
    cost.bytes_read += added;
    return cost;
  });
  AN_ON_DEVICE(dy.device(), cpu::concat_backward(dy, k, dxs, dx_modes),
               cuda::concat_backward(dy, k, dxs, dx_modes));
}

void slice2d_forward(const Tensor& x, Tensor& y, const Slice2dParams& p) {
  check_slice(x, y, p, "slice2d_forward");
  count_op("slice2d_forward", [&] {
    return y.numel() == 0 ? OpCost{} : launch(bytes_of(y), bytes_of(y));  // reads what it keeps
  });
  AN_ON_DEVICE(x.device(), cpu::slice2d_forward(x, y, p), cuda::slice2d_forward(x, y, p));
}

void slice2d_backward(const Tensor& dy, Tensor& dx, const Slice2dParams& p, GradMode dx_mode) {
  check_slice(dx, dy, p, "slice2d_backward");
  AN_CHECK(!overlaps(dx, dy)) << "slice2d_backward: dx " << dx.describe() << " overlaps dy";
  count_op("slice2d_backward", [&] {  // dx written whole (read too when added into)
    if (dx.numel() == 0) return OpCost{};
    return launch(bytes_of(dy) + (dx_mode == GradMode::Accumulate ? bytes_of(dx) : 0),
                  bytes_of(dx));
  });
  AN_ON_DEVICE(dy.device(), cpu::slice2d_backward(dy, dx, p, dx_mode),
               cuda::slice2d_backward(dy, dx, p, dx_mode));
}

}  // namespace autonet
