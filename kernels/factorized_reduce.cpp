// Public entries of the factorized_reduce family: validate once, naming the tensor, then dispatch
// to a twin.
#include "kernels/factorized_reduce.h"

#include <climits>
#include <string>

#include "kernels/op_cost.h"

namespace autonet {

namespace {
std::string named(const char* what, const char* tensor) {
  return std::string(what) + ": " + tensor;
}

// x, w1 and w2 (contiguous floats of one dtype and device, the GEMM sizes within BLAS's int);
// returns y's shape.
Shape check_operands(const Tensor& x, const Tensor& w1, const Tensor& w2, const char* what) {
  check_float_tensor(x, 4, named(what, "x").c_str());
  check_float_tensor(w1, 4, named(what, "w1").c_str());
  check_float_tensor(w2, 4, named(what, "w2").c_str());
  check_matches(w1, x, named(what, "w1").c_str());
  check_matches(w2, x, named(what, "w2").c_str());
  const Shape out = factorized_reduce_out_shape(x.shape(), w1.shape(), w2.shape());
  AN_CHECK(out[2] * out[3] <= INT_MAX && x.size(1) <= INT_MAX && out[1] <= INT_MAX)
      << what << ": a GEMM dimension exceeds BLAS's int range (x " << x.describe() << ", w1 "
      << w1.describe() << ")";
  return out;
}

// 2 FLOPs per product of each output element's sum over C.
int64_t gemm_flops(const Tensor& x, const Shape& out) {
  return 2 * x.size(1) * shape_numel(out);
}
}  // namespace

Shape factorized_reduce_out_shape(const Shape& x, const Shape& w1, const Shape& w2) {
  AN_CHECK(x.size() == 4) << "factorized_reduce: x must be [N, C, H, W], got " << shape_str(x);
  AN_CHECK(x[2] % 2 == 0 && x[3] % 2 == 0)
      << "factorized_reduce: x " << shape_str(x)
      << " needs an even height and width (the two stride-2 phases must give one output size)";
  for (const auto& [w, name] : {std::pair{&w1, "w1"}, std::pair{&w2, "w2"}})
    AN_CHECK(w->size() == 4 && (*w)[1] == x[1] && (*w)[2] == 1 && (*w)[3] == 1)
        << "factorized_reduce: " << name << " must be [Co/2, " << x[1] << ", 1, 1] for x "
        << shape_str(x) << ", got " << shape_str(*w);
  AN_CHECK(w2[0] == w1[0]) << "factorized_reduce: w2 " << shape_str(w2) << " must match w1 "
                           << shape_str(w1) << " (each gives half of the output channels)";
  return {x[0], 2 * w1[0], x[2] / 2, x[3] / 2};
}

void factorized_reduce_forward(const Tensor& x, const Tensor& w1, const Tensor& w2, Tensor& y) {
  const char* what = "factorized_reduce_forward";
  const Shape out = check_operands(x, w1, w2, what);
  check_matches(y, x, out, named(what, "y").c_str());
  AN_CHECK(!overlaps(y, x) && !overlaps(y, w1) && !overlaps(y, w2))
      << what << ": y " << y.describe() << " overlaps an input";
  // One kernel: each output element its own sum over C, the ReLU in the loads.
  count_op(what, [&] {
    if (y.numel() == 0) return OpCost{};
    return launch(bytes_of(x, w1, w2), bytes_of(y), gemm_flops(x, out));
  });
  AN_ON_DEVICE(x.device(), cpu::factorized_reduce_forward(x, w1, w2, y),
               cuda::factorized_reduce_forward(x, w1, w2, y));
}

void factorized_reduce_backward(const Tensor& x, const Tensor& w1, const Tensor& w2,
                                const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& dw2,
                                GradMode dx_mode) {
  const char* what = "factorized_reduce_backward";
  const Shape out = check_operands(x, w1, w2, what);
  check_matches(dy, x, out, named(what, "dy").c_str());
  check_matches_if_defined(dx, x, x.shape(), named(what, "dx").c_str());
  check_matches_if_defined(dw1, x, w1.shape(), named(what, "dw1").c_str());
  check_matches_if_defined(dw2, x, w2.shape(), named(what, "dw2").c_str());
  for (const auto& [g, name] :
       {std::pair{&dx, "dx"}, std::pair{&dw1, "dw1"}, std::pair{&dw2, "dw2"}})
    AN_CHECK(!g->defined() ||
             (!overlaps(*g, x) && !overlaps(*g, w1) && !overlaps(*g, w2) && !overlaps(*g, dy)))
        << what << ": " << name << " " << g->describe() << " overlaps an input";
  AN_CHECK(!dx.defined() ||
           ((!dw1.defined() || !overlaps(dx, dw1)) && (!dw2.defined() || !overlaps(dx, dw2))))
      << what << ": dx " << dx.describe() << " overlaps a weight gradient";
  AN_CHECK(!dw1.defined() || !dw2.defined() || !overlaps(dw1, dw2))
      << what << ": dw2 " << dw2.describe() << " overlaps dw1";
  // The CUDA twin: one kernel for dx (every pixel of x, 0 off the two phases), on the side stream
  // one for dw1 and dw2 together (a thread block cluster per weight row sums the batch, no float
  // atomics).
  count_op(what, [&] {
    OpCost cost;
    const bool accumulate = dx_mode == GradMode::Accumulate;
    if (dx.defined() && x.numel() > 0)
      cost += launch(bytes_of(x, w1, w2, dy) + (accumulate ? bytes_of(dx) : 0), bytes_of(dx),
                     gemm_flops(x, out));
    const int64_t weights = (dw1.defined() ? 1 : 0) + (dw2.defined() ? 1 : 0);
    if (weights > 0 && shape_numel(out) > 0 && x.size(1) > 0)  // else dw += 0: nothing to launch
      cost += on_side_stream(launch(bytes_of(x, dw1, dw2) + bytes_of(dy) * weights / 2,
                                    bytes_of(dw1, dw2), gemm_flops(x, out) * weights / 2));
    return cost;
  });
  AN_ON_DEVICE(x.device(), cpu::factorized_reduce_backward(x, w1, w2, dy, dx, dw1, dw2, dx_mode),
               cuda::factorized_reduce_backward(x, w1, w2, dy, dx, dw1, dw2, dx_mode));
}

}  // namespace autonet
