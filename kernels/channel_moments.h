// A tensor's per-channel moments in parts, as the kernel that writes the tensor can form them on
// the way out, so a batch norm after it finds its statistics without reading the tensor again.
//
// x [N, C, H, W] is cut into runs of kMomentRun pixels of one sample's plane (the last run of a
// plane may be shorter); part p = n·runs + r (runs = ⌈H·W / kMomentRun⌉) of channel c holds the
// count, mean and M2 = Σ(x − mean)² of run r of plane (n, c), in double. Parts are stored as a
// float64 tensor [P, C, 3]. Merged pairwise (Chan, Golub and LeVeque's update) they give the
// channel's mean and M2; each part's M2 is formed around a value of its own run (its mean, or
// its first value), so nothing cancels as Σx² − (Σx)²/m would far from zero.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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

// Whether member k of a moment list (empty, or one tensor per member) has its parts.
inline bool has_moments(const std::vector<Tensor>& moments, size_t k) {
  return k < moments.size() && moments[k].defined();
}

// `moments` is float64 [moment_parts(x), C, 3], contiguous, on x's device; `what` names the op
// and the member in the error.
inline void check_moments(const Tensor& moments, const Tensor& x, const std::string& what) {
  check_defined(moments, what.c_str());
  check_contiguous(moments, what.c_str());
  const Shape want{moment_parts(x.shape()), x.size(1), 3};
  AN_CHECK(moments.dtype() == DType::f64 && moments.device() == x.device() &&
           moments.shape() == want)
      << what << ": moment parts must be float64 " << shape_str(want) << " on "
      << x.device().str() << " for " << x.describe() << ", got " << moments.describe();
}

// A moment list for the tensors `of` (K members): empty, or K entries, each undefined or
// check_moments of its member; errors name "<what>: <member> k moments".
inline void check_moment_list(const std::vector<Tensor>& moments, const std::vector<Tensor>& of,
                              const char* what, const char* member = "member") {
  AN_CHECK(moments.empty() || moments.size() == of.size())
      << what << ": " << moments.size() << " moment tensors for " << of.size() << " " << member
      << "s (none, or one per " << member << ", undefined where none)";
  for (size_t k = 0; k < moments.size(); ++k)
    if (moments[k].defined())
      check_moments(moments[k], of[k],
                    std::string(what) + ": " + member + " " + std::to_string(k) + " moments");
}

// What a batch norm's statistics read of one input: the input itself (4 FLOPs a value), or its
// moment parts where its producer formed them (~10 FLOPs a part merged). Adds to read and flops.
inline void add_statistics_reads(const Tensor& x, const std::vector<Tensor>& moments, size_t k,
                                 int64_t& read, int64_t& flops) {
  if (has_moments(moments, k)) {
    read += static_cast<int64_t>(moments[k].nbytes());
    flops += 10 * moments[k].numel() / 3;
  } else {
    read += static_cast<int64_t>(x.nbytes());
    flops += 4 * x.numel();
  }
}

// The CPU twins: the parts of y [N, C, S] (S = H·W) into parts [P, C, 3], each run in one pass
// of sums shifted by its first value (as batch_norm_math.h's ShiftedMoments: a value of the run
// lies about a standard deviation from its mean, so Σd² − (Σd)²/n cancels little).
template <class T>
void form_moment_parts(const T* y, int64_t N, int64_t C, int64_t S, double* parts) {
  const int64_t runs = (S + kMomentRun - 1) / kMomentRun;
#pragma omp parallel for if (N * C * S > 65536)
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const int64_t n = plane / C, c = plane % C;
    const T* p = y + plane * S;
    for (int64_t r = 0; r < runs; ++r) {
      const int64_t begin = r * kMomentRun, end = begin + kMomentRun < S ? begin + kMomentRun : S;
      const double shift = double(p[begin]), count = double(end - begin);
      double sum = 0, squares = 0;
      for (int64_t s = begin; s < end; ++s) {
        const double d = double(p[s]) - shift;
        sum += d;
        squares += d * d;
      }
      const double m2 = squares - sum * sum / count;
      double* part = parts + ((n * runs + r) * C + c) * 3;
      part[0] = count, part[1] = shift + sum / count, part[2] = m2 > 0 ? m2 : 0;
    }
  }
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
