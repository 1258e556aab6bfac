// Public entries of the pointwise group: validate once, naming the member and the tensor, then
// dispatch to a twin.
#include "kernels/pointwise_group.h"

#include <climits>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/op_cost.h"

namespace autonet {

namespace {
std::string member_name(const char* what, size_t k, const char* tensor) {
  return std::string(what) + ": member " + std::to_string(k) + " " + tensor;
}

// Every member's x and w of member 0's shape, dtype and device (x [N, C, H, W], w [Co, C, 1, 1]);
// returns the members' common output shape [N, Co, H, W].
Shape check_members(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                    const char* what) {
  const size_t k_count = xs.size();
  AN_CHECK(k_count >= 1 && k_count <= kMaxGroupMembers)
      << what << ": needs 1 to " << kMaxGroupMembers << " members, got " << k_count;
  AN_CHECK(ws.size() == k_count) << what << ": " << ws.size() << " weights for " << k_count
                                 << " inputs";
  check_float_tensor(xs[0], 4, member_name(what, 0, "x").c_str());
  check_float_tensor(ws[0], 4, member_name(what, 0, "weight").c_str());
  check_matches(ws[0], xs[0], member_name(what, 0, "weight").c_str());
  AN_CHECK(ws[0].size(2) == 1 && ws[0].size(3) == 1)
      << member_name(what, 0, "weight") << " must be [Co, C, 1, 1], got " << ws[0].describe();
  AN_CHECK(xs[0].size(2) * xs[0].size(3) <= INT_MAX && ws[0].size(0) <= INT_MAX &&
           ws[0].size(1) <= INT_MAX)
      << what << ": a GEMM dimension exceeds BLAS's int range (x " << xs[0].describe()
      << ", weight " << ws[0].describe() << ")";
  const Shape out = conv2d_out_shape(xs[0].shape(), ws[0].shape(), Conv2dParams{});
  for (size_t k = 1; k < k_count; ++k) {
    check_matches(xs[k], xs[0], xs[0].shape(), member_name(what, k, "x").c_str());
    check_matches(ws[k], xs[0], ws[0].shape(), member_name(what, k, "weight").c_str());
  }
  return out;
}

// No tensor of `written` shares memory with another of them or with any tensor of `read`: the
// CUDA twin writes every member in one launch.
void check_no_overlaps(const std::vector<const std::vector<Tensor>*>& read,
                       const std::vector<Tensor>& written, const char* what,
                       const char* written_name) {
  for (size_t k = 0; k < written.size(); ++k) {
    for (size_t j = 0; j < k; ++j)
      AN_CHECK(!overlaps(written[k], written[j]))
          << member_name(what, k, written_name) << " " << written[k].describe()
          << " overlaps member " << j << "'s";
    for (const std::vector<Tensor>* list : read)
      for (const Tensor& t : *list)
        AN_CHECK(!overlaps(written[k], t))
            << member_name(what, k, written_name) << " " << written[k].describe()
            << " overlaps an input";
  }
}

int64_t gemm_flops(const Tensor& x, const Tensor& w) {
  return 2 * w.size(0) * w.size(1) * x.size(0) * x.size(2) * x.size(3);
}
}  // namespace

void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys, bool relu_input,
                             const std::vector<Tensor>& moments) {
  const char* what = "pointwise_group_forward";
  const Shape out = check_members(xs, ws, what);
  AN_CHECK(ys.size() == xs.size()) << what << ": " << ys.size() << " outputs for " << xs.size()
                                   << " members";
  for (size_t k = 0; k < ys.size(); ++k)
    check_matches(ys[k], xs[0], out, member_name(what, k, "y").c_str());
  check_no_overlaps({&xs, &ws}, ys, what, "y");
  check_moment_list(moments, ys, what);
  // One batched GEMM kernel for the whole group (a folded ReLU costs nothing: x is read anyway;
  // the moments are summed from the tile in registers, 4 FLOPs a value).
  count_op(what, [&] {
    if (shape_numel(out) == 0) return OpCost{};
    int64_t flops = 0;
    for (size_t k = 0; k < xs.size(); ++k) flops += gemm_flops(xs[k], ws[k]);
    int64_t read = 0, written = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
      read += bytes_of(xs[k], ws[k]);
      written += bytes_of(ys[k]);
      if (has_parts(moments, k)) {
        written += bytes_of(moments[k]);
        flops += 4 * ys[k].numel();
      }
    }
    return launch(read, written, flops);
  });
  AN_ON_DEVICE(xs[0].device(), cpu::pointwise_group_forward(xs, ws, ys, relu_input, moments),
               cuda::pointwise_group_forward(xs, ws, ys, relu_input, moments));
}

void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes,
                              bool relu_input) {
  const char* what = "pointwise_group_backward";
  const Shape out = check_members(xs, ws, what);
  const size_t k_count = xs.size();
  AN_CHECK(dys.size() == k_count && dxs.size() == k_count && dws.size() == k_count &&
           dx_modes.size() == k_count)
      << what << ": " << dys.size() << " output gradients, " << dxs.size() << " dx, "
      << dws.size() << " dweight and " << dx_modes.size() << " dx modes for " << k_count
      << " members (undefined tensors where none)";
  for (size_t k = 0; k < k_count; ++k) {
    check_matches_if_defined(dys[k], xs[0], out, member_name(what, k, "dy").c_str());
    check_matches_if_defined(dxs[k], xs[0], xs[0].shape(), member_name(what, k, "dx").c_str());
    check_matches_if_defined(dws[k], xs[0], ws[0].shape(),
                             member_name(what, k, "dweight").c_str());
  }
  check_no_overlaps({&xs, &ws, &dys}, dxs, what, "dx");
  check_no_overlaps({&xs, &ws, &dys, &dxs}, dws, what, "dweight");
  // The CUDA twin: one kernel for every dx (a member without dy zero-fills a written dx; with
  // relu_input it also reads x for relu'), on the side stream one for every dw (blocks per member and dw tile sum
  // slices of the batch's pixels, clusters of them add their tiles) and, where a tile has more
  // than one cluster (pointwise_weight_grad_split), one adding the clusters' partial tiles.
  count_op(what, [&] {
    OpCost cost;
    const int64_t n = xs[0].numel();
    int64_t dx_read = 0, dx_written = 0, dx_flops = 0;
    int64_t dw_read = 0, dw_written = 0, dw_flops = 0;
    for (size_t k = 0; k < k_count; ++k) {
      const bool accumulate = dx_modes[k] == GradMode::Accumulate;
      if (dxs[k].defined() && (dys[k].defined() || !accumulate)) {
        dx_read += (dys[k].defined() ? bytes_of(dys[k], ws[k]) : 0) +
                   (accumulate ? bytes_of(dxs[k]) : 0) +
                   (relu_input && dys[k].defined() ? bytes_of(xs[k]) : 0);  // relu'(x)
        dx_written += bytes_of(dxs[k]);
        if (dys[k].defined()) dx_flops += gemm_flops(xs[k], ws[k]);
      }
      if (dws[k].defined() && dys[k].defined()) {
        dw_read += bytes_of(dys[k], xs[k], dws[k]);
        dw_written += bytes_of(dws[k]);
        dw_flops += gemm_flops(xs[k], ws[k]);
      }
    }
    if (dx_written > 0 && n > 0) cost += launch(dx_read, dx_written, dx_flops);
    if (dw_written > 0 && shape_numel(out) > 0) {  // else dw += 0: nothing to launch
      const PointwiseWeightGradSplit split =
          pointwise_weight_grad_split(xs[0].size(0), xs[0].size(2) * xs[0].size(3));
      if (split.clusters == 1) {
        cost += on_side_stream(launch(dw_read, dw_written, dw_flops));
      } else {  // partial tiles [members, clusters, Co, C], then their sum into dw
        const int64_t partials = split.clusters * dw_written;
        const int64_t weights = dw_written / int64_t(dtype_size(xs[0].dtype()));
        cost += on_side_stream(launch(dw_read - dw_written, partials, dw_flops) +
                               launch(partials + dw_written, dw_written, split.clusters * weights));
      }
    }
    return cost;
  });
  AN_ON_DEVICE(
      xs[0].device(), cpu::pointwise_group_backward(xs, ws, dys, dxs, dws, dx_modes, relu_input),
      cuda::pointwise_group_backward(xs, ws, dys, dxs, dws, dx_modes, relu_input));
}

}  // namespace autonet
