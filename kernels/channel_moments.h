// A tensor's per-channel moments in parts, as the kernel that writes the tensor can form them on
// the way out, so a batch norm after it finds its statistics without reading the tensor again.
//
// x [N, C, H, W] is cut into runs of kMomentRun pixels of one sample's plane (the last run of a
// plane may be shorter); part p = n·runs + r (runs = ⌈H·W / kMomentRun⌉) of channel c holds the
// count, mean and M2 = Σ(x − mean)² of run r of plane (n, c), in double. Parts are stored as a
// float64 tensor [P, C, 3]. Merged pairwise (Chan, Golub and LeVeque's update) they give the
// channel's mean and M2; each part's M2 is formed around a value of its own run (its mean, or
// its first value), so nothing cancels as Σx² − (Σx)²/m would far from zero.
//
// Backward has the same shape of problem: a batch norm's gradient needs Σg and Σg·x̂ per channel
// (g its output gradient). A kernel that writes g can sum them per run on the way out, as
// gradient-sum parts [P, C, 2] in double; the batch norm adds them in part order instead of
// reading g and x again (batch_norm_math.h's bn_channel_grad_sums sums a pass over the same runs,
// so both ways agree bit for bit on the CPU).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/lane_sum.h"
#include "runtime/error.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE
#include "runtime/tensor.h"

namespace autonet {

constexpr int64_t kMomentRun = 64;

struct MomentsPart {
  double count = 0, mean = 0, m2 = 0;
};

// a and b together (either may be empty).
AN_HOST_DEVICE MomentsPart merge_moments(const MomentsPart& a, const MomentsPart& b) {
  if (a.count == 0) return b;
  if (b.count == 0) return a;
  const double count = a.count + b.count, delta = b.mean - a.mean;
  return {count, a.mean + delta * (b.count / count),
          a.m2 + b.m2 + delta * delta * (a.count * b.count / count)};
}

// The parts of an [N, C, H, W] tensor's channels: N·⌈H·W / kMomentRun⌉.
inline int64_t moment_parts(const Shape& x) {
  return x[0] * ((x[2] * x[3] + kMomentRun - 1) / kMomentRun);
}

// Whether member k of a parts list (empty, or one tensor per member) has its parts.
inline bool has_parts(const std::vector<Tensor>& parts, size_t k) {
  return k < parts.size() && parts[k].defined();
}

// Columns of a part: a moment part's count, mean and M2; a gradient-sum part's Σg and Σg·x̂.
constexpr int64_t kMomentColumns = 3, kGradSumColumns = 2;

// `parts` is float64 [moment_parts(x), C, columns], contiguous, on x's device; `what` names the
// op and the member in the error.
inline void check_parts(const Tensor& parts, const Tensor& x, int64_t columns,
                        const std::string& what) {
  check_defined(parts, what.c_str());
  check_contiguous(parts, what.c_str());
  const Shape want{moment_parts(x.shape()), x.size(1), columns};
  AN_CHECK(parts.dtype() == DType::f64 && parts.device() == x.device() && parts.shape() == want)
      << what << ": parts must be float64 " << shape_str(want) << " on " << x.device().str()
      << " for " << x.describe() << ", got " << parts.describe();
}

// A parts list for the tensors `of` (K members): empty, or K entries, each undefined or
// check_parts of its member; errors name "<what>: <member> k <kind>" (kind: "moments" or
// "gradient sums").
inline void check_part_list(const std::vector<Tensor>& parts, const std::vector<Tensor>& of,
                            int64_t columns, const char* what, const char* member,
                            const char* kind) {
  AN_CHECK(parts.empty() || parts.size() == of.size())
      << what << ": " << parts.size() << " tensors of " << kind << " for " << of.size() << " "
      << member << "s (none, or one per " << member << ", undefined where none)";
  for (size_t k = 0; k < parts.size(); ++k)
    if (parts[k].defined())
      check_parts(parts[k], of[k], columns,
                  std::string(what) + ": " + member + " " + std::to_string(k) + " " + kind);
}
inline void check_moment_list(const std::vector<Tensor>& moments, const std::vector<Tensor>& of,
                              const char* what, const char* member = "member") {
  check_part_list(moments, of, kMomentColumns, what, member, "moments");
}

// What a batch norm's statistics read of one input: the input itself (4 FLOPs a value), or its
// moment parts where its producer formed them (~10 FLOPs a part merged). Adds to read and flops.
inline void add_statistics_reads(const Tensor& x, const std::vector<Tensor>& moments, size_t k,
                                 int64_t& read, int64_t& flops) {
  if (has_parts(moments, k)) {
    read += static_cast<int64_t>(moments[k].nbytes());
    flops += 10 * moments[k].numel() / 3;
  } else {
    read += static_cast<int64_t>(x.nbytes());
    flops += 4 * x.numel();
  }
}

// The CPU twins' sums over a run or a plane go in kSumLanes fixed lanes (kernels/cpu/lane_sum.h:
// the same bits on every instruction set); a single running double sum was a chain of dependent
// adds (~1.8× slower).
constexpr int kSumLanes = 8;

// Σd and Σd² with d = v − shift over values[0, count), in double.
template <class T>
void shifted_sums(const T* values, int64_t count, double shift, double& sum, double& squares) {
  auto d = [&](int64_t i) { return double(values[i]) - shift; };
  cpu::sums_in_lanes<kSumLanes, double>(
      count, d, [&](int64_t i) { return d(i) * d(i); }, sum, squares);
}

// The CPU twins: the parts of plane `plane` = n·C + c of y [N, C, S] (S = H·W; p: the plane's
// values) into parts [P, C, 3], each run in one pass of sums shifted by its first value (as
// batch_norm_math.h's ShiftedMoments: a value of the run lies about a standard deviation from its
// mean, so Σd² − (Σd)²/n cancels little).
template <class T>
void form_plane_moment_parts(const T* p, int64_t plane, int64_t C, int64_t S, double* parts) {
  const int64_t runs = (S + kMomentRun - 1) / kMomentRun, n = plane / C, c = plane % C;
  for (int64_t r = 0; r < runs; ++r) {
    const int64_t begin = r * kMomentRun, end = begin + kMomentRun < S ? begin + kMomentRun : S;
    const double shift = double(p[begin]), count = double(end - begin);
    double sum, squares;
    shifted_sums(p + begin, end - begin, shift, sum, squares);
    const double m2 = squares - sum * sum / count;
    double* part = parts + ((n * runs + r) * C + c) * 3;
    part[0] = count, part[1] = shift + sum / count, part[2] = m2 > 0 ? m2 : 0;
  }
}

// Every plane's.
template <class T>
void form_moment_parts(const T* y, int64_t N, int64_t C, int64_t S, double* parts) {
#pragma omp parallel for if (N * C * S > 65536)
  for (int64_t plane = 0; plane < N * C; ++plane)
    form_plane_moment_parts(y + plane * S, plane, C, S, parts);
}

// The CPU twins' entry: y's moment parts into `parts` ([P, C, 3]), formed from the finished y.
inline void form_moment_parts_of(const Tensor& y, const Tensor& parts, const char* what) {
  dispatch_float(y.dtype(), what, [&]<class T>() {
    form_moment_parts(y.data<T>(), y.size(0), y.size(1), y.size(2) * y.size(3),
                      parts.data<double>());
  });
}

// Channel c's moments from its parts, merged in part order.
inline MomentsPart merged_moments(const double* parts, int64_t P, int64_t C, int64_t c) {
  MomentsPart total;
  for (int64_t p = 0; p < P; ++p) {
    const double* part = parts + (p * C + c) * 3;
    total = merge_moments(total, {part[0], part[1], part[2]});
  }
  return total;
}

}  // namespace autonet
