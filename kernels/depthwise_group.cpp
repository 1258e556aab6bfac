// Public entries of the depthwise group: validate once, naming the member, then dispatch to a twin.
#include "kernels/depthwise_group.h"

#include <limits>
#include <string>

#include "kernels/op_cost.h"

namespace autonet {

namespace {
std::string member_name(const char* what, size_t k, const char* tensor) {
  return std::string(what) + ": member " + std::to_string(k) + " " + tensor;
}

// K members; xs all of one shape (x [N, C, H, W]), dtype and device; a filter of that dtype and
// device per member; every output of one shape, which is returned.
Shape check_group(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                  const std::vector<DepthwiseConv2dParams>& params, const char* what) {
  const size_t k_count = params.size();
  AN_CHECK(k_count >= 1 && k_count <= kMaxGroupMembers)
      << what << ": needs 1 to " << kMaxGroupMembers << " members, got " << k_count;
  AN_CHECK(xs.size() == k_count && ws.size() == k_count)
      << what << ": " << xs.size() << " inputs and " << ws.size() << " filters for " << k_count
      << " members";
  std::vector<Shape> x_shapes, w_shapes;
  for (size_t k = 0; k < k_count; ++k) {
    const std::string x_name = member_name(what, k, "x"), w_name = member_name(what, k, "w");
    check_float_tensor(xs[k], 4, x_name.c_str());
    if (k > 0) check_matches(xs[k], xs[0], x_name.c_str());
    AN_CHECK(xs[k].size(2) * xs[k].size(3) <= std::numeric_limits<int>::max())
        << x_name << ": image plane too large for the kernels' int coordinates: "
        << xs[k].describe();
    check_matches(ws[k], xs[0], w_name.c_str());
    x_shapes.push_back(xs[k].shape());
    w_shapes.push_back(ws[k].shape());
  }
  return depthwise_group_out_shape(x_shapes, w_shapes, params);
}

// Member k's output shape, by depthwise_conv2d's own checks, an error naming the member.
Shape member_out_shape(const Shape& x, const Shape& w, const DepthwiseConv2dParams& p, size_t k) {
  try {
    return depthwise_conv2d_out_shape(x, w, p);
  } catch (const Error& e) {
    const std::string location(e.what(), e.message());
    throw Error("depthwise_group: member " + std::to_string(k) + ": " + e.message(), location);
  }
}

// norms: none, or one per member, each undefined or mean and invstd [C] like x.
void check_norms(const std::vector<InputNorm>& norms, const std::vector<Tensor>& xs,
                 const char* what) {
  if (norms.empty()) return;
  AN_CHECK(norms.size() == xs.size())
      << what << ": " << norms.size() << " input norms for " << xs.size()
      << " members (none, or one per member, undefined where a member has none)";
  for (size_t k = 0; k < norms.size(); ++k) {
    if (!norms[k].mean.defined() && !norms[k].invstd.defined()) continue;
    const std::string mean = member_name(what, k, "norm mean");
    const std::string invstd = member_name(what, k, "norm invstd");
    check_defined(norms[k].mean, mean.c_str());
    check_defined(norms[k].invstd, invstd.c_str());
    check_matches(norms[k].mean, xs[0], {xs[0].size(1)}, mean.c_str());
    check_matches(norms[k].invstd, xs[0], {xs[0].size(1)}, invstd.c_str());
  }
}

// Bytes of the members' statistics a kernel reads.
int64_t norm_bytes(const std::vector<InputNorm>& norms) {
  int64_t bytes = 0;
  for (const InputNorm& n : norms)
    if (n.defined()) bytes += bytes_of(n.mean, n.invstd);
  return bytes;
}
bool normalized(const std::vector<InputNorm>& norms, size_t k) {
  return !norms.empty() && norms[k].defined();
}

// The tensors a kernel writes must not share bytes: the members run side by side.
void check_separate(const std::vector<Tensor>& ts, const char* what, const char* tensor) {
  for (size_t a = 0; a < ts.size(); ++a)
    for (size_t b = a + 1; b < ts.size(); ++b)
      AN_CHECK(!overlaps(ts[a], ts[b]))
          << what << ": members " << a << " and " << b << " write " << tensor
          << " into the same memory; a group's members need separate tensors";
}
}  // namespace

Shape depthwise_group_out_shape(const std::vector<Shape>& xs, const std::vector<Shape>& ws,
                                const std::vector<DepthwiseConv2dParams>& params) {
  AN_CHECK(!params.empty() && xs.size() == params.size() && ws.size() == params.size())
      << "depthwise_group: " << xs.size() << " input and " << ws.size() << " filter shapes for "
      << params.size() << " members";
  const Shape out = member_out_shape(xs[0], ws[0], params[0], 0);
  for (size_t k = 1; k < params.size(); ++k) {
    AN_CHECK(xs[k] == xs[0]) << "depthwise_group: member " << k << "'s input is "
                             << shape_str(xs[k]) << " where member 0's is " << shape_str(xs[0])
                             << "; a group's inputs share one shape";
    const Shape shape = member_out_shape(xs[k], ws[k], params[k], k);
    AN_CHECK(shape == out) << "depthwise_group: member " << k << " gives " << shape_str(shape)
                           << " where member 0 gives " << shape_str(out)
                           << "; a group's outputs share one shape";
  }
  return out;
}

void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params,
                             const std::vector<InputNorm>& norms) {
  const char* what = "depthwise_group_forward";
  const Shape out = check_group(xs, ws, params, what);
  check_norms(norms, xs, what);
  AN_CHECK(ys.size() == params.size())
      << what << ": " << ys.size() << " outputs for " << params.size() << " members";
  for (size_t k = 0; k < ys.size(); ++k)
    check_matches(ys[k], xs[0], out, member_name(what, k, "y").c_str());
  check_separate(ys, what, "y");
  // One kernel: each member's x (normalised as it is read) and filter read, its output written.
  count_op(what, [&] {
    const int64_t n = shape_numel(out);
    if (n == 0) return OpCost{};
    int64_t read = norm_bytes(norms), written = 0, flops = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      read += bytes_of(xs[k], ws[k]);
      written += bytes_of(ys[k]);
      const int64_t taps = ws[k].size(2) * ws[k].size(3);
      flops += (normalized(norms, k) ? 4 : 2) * taps * n;
    }
    return launch(read, written, flops);
  });
  AN_ON_DEVICE(xs[0].device(), cpu::depthwise_group_forward(xs, ws, ys, params, norms),
               cuda::depthwise_group_forward(xs, ws, ys, params, norms));
}

void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes,
                              const std::vector<InputNorm>& norms,
                              const std::vector<Tensor>& grad_sums) {
  const char* what = "depthwise_group_backward";
  const Shape out = check_group(xs, ws, params, what);
  check_norms(norms, xs, what);
  const size_t k_count = params.size();
  AN_CHECK(dys.size() == k_count && dxs.size() == k_count && dws.size() == k_count &&
           dx_modes.size() == k_count)
      << what << ": " << dys.size() << " output gradients, " << dxs.size() << " input gradients, "
      << dws.size() << " filter gradients and " << dx_modes.size() << " dx modes for " << k_count
      << " members (undefined tensors where none)";
  for (size_t k = 0; k < k_count; ++k) {
    check_matches_if_defined(dys[k], xs[0], out, member_name(what, k, "dy").c_str());
    check_matches_if_defined(dxs[k], xs[0], xs[k].shape(), member_name(what, k, "dx").c_str());
    check_matches_if_defined(dws[k], xs[0], ws[k].shape(), member_name(what, k, "dw").c_str());
  }
  check_separate(dxs, what, "dx");
  check_separate(dws, what, "dw");
  check_part_list(grad_sums, xs, kGradSumColumns, what, "member", "gradient sums");
  for (size_t k = 0; k < grad_sums.size(); ++k)
    AN_CHECK(!grad_sums[k].defined() ||
             (normalized(norms, k) && dxs[k].defined() && dx_modes[k] == GradMode::Write))
        << member_name(what, k, "gradient sums")
        << " need a folded batch norm and a written dx (the gradient at its x̂)";
  // One dx kernel for every member's dx (zero-filled when written without a dy), summing the
  // gradient sums from the values it writes (x̂ from x, which a folded ReLU reads anyway); one
  // kernel for every wanted dw (a cluster per member and channel).
  count_op(what, [&] {
    const int64_t n = shape_numel(out);
    int64_t dx_read = 0, dx_written = 0, dx_flops = 0;
    int64_t dw_read = 0, dw_written = 0, dw_flops = 0;
    for (size_t k = 0; k < k_count; ++k) {
      const int64_t taps = ws[k].size(2) * ws[k].size(3);
      const bool accumulate = dx_modes[k] == GradMode::Accumulate;
      const bool sums = has_parts(grad_sums, k);
      if (dxs[k].defined() && dys[k].defined()) {
        dx_read += bytes_of(dys[k], ws[k]) +
                   (params[k].relu_input || sums ? bytes_of(xs[k]) : 0) +
                   (accumulate ? bytes_of(dxs[k]) : 0) +
                   (normalized(norms, k) ? bytes_of(norms[k].mean, norms[k].invstd) : 0);
        dx_written += bytes_of(dxs[k]);
        dx_flops += 2 * taps * n;
      } else if (dxs[k].defined() && !accumulate) {
        dx_written += bytes_of(dxs[k]);  // no gradient: zeros
      }
      if (sums) {
        dx_written += bytes_of(grad_sums[k]);
        dx_flops += 5 * xs[k].numel();
      }
      if (dws[k].defined() && dys[k].defined()) {
        dw_read += bytes_of(xs[k], dys[k], dws[k]) +
                   (normalized(norms, k) ? bytes_of(norms[k].mean, norms[k].invstd) : 0);
        dw_written += bytes_of(dws[k]);
        dw_flops += (normalized(norms, k) ? 4 : 2) * taps * n;
      }
    }
    OpCost cost;
    if (dx_written > 0) cost += launch(dx_read, dx_written, dx_flops);
    if (dw_written > 0 && n > 0)
      cost += on_side_stream(launch(dw_read, dw_written, dw_flops));
    return cost;
  });
  AN_ON_DEVICE(xs[0].device(),
               cpu::depthwise_group_backward(xs, ws, dys, dxs, dws, params, dx_modes, norms,
                                             grad_sums),
               cuda::depthwise_group_backward(xs, ws, dys, dxs, dws, params, dx_modes, norms,
                                              grad_sums));
}

}  // namespace autonet
