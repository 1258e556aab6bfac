// CPU twin of the stencil group: a plane at a time, every stencil in turn, each through its own
// family's per-plane CPU work (kernels/cpu/depthwise_planes.h, pool_planes.h), with the values and
// rounding of each stencil's own kernel. Its gain over running the stencils one after another is
// what they share on a plane (the edges leaving one state apply the same ops to it):
//   - depthwise stencils of the same frame (padding, dilation reach, stride, folded ReLU: the same
//     op on different edges) read one framed copy of the plane, forward and for dw;
//   - pools of the same windows (as the CUDA twin's `same_as`) compute their values once, and a
//     max pool's arg-max table serves every max pool of its windows in backward.
// Backward keeps the CUDA twin's rounding: the contributions summed in stencil order, dx_0 + dx_1
// + …, each added once rounded, and that sum added to an existing dx once. Moment parts are formed
// from each finished output plane (channel_moments.h's CPU twin).
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/channel_moments.h"
#include "kernels/cpu/depthwise_planes.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/pool_planes.h"
#include "kernels/stencil_group.h"

AN_CPU_KERNELS_BEGIN

namespace {
bool is_pool(const Stencil& s) { return s.kind == Stencil::Kind::pool; }

// A stencil's plans for a call: its geometry, and the depthwise frames' layouts and taps or the
// average pool's divisors, worked out once; and which earlier stencil's work it shares.
template <class T>
struct StencilPlan {
  bool pool = false;
  PoolGeometry pool_geometry{};
  std::vector<T> divisors;
  DepthwiseGeometry conv{};
  std::unique_ptr<depthwise_planes::InputPlan> input;
  std::unique_ptr<depthwise_planes::InputGradientPlan> input_grad;
  const T* weights = nullptr;  // [C, R, S]
  int taps = 0;
  // The first stencil with this one's windows (a pool) or framed input (a depthwise stencil);
  // itself when none before it has them.
  size_t shares = 0;

  StencilPlan(const Tensor& x, const Tensor& w, const Shape& out, const Stencil& s)
      : pool(is_pool(s)) {
    if (pool) {
      pool_geometry = autonet::pool_geometry(s.pool, x.shape(), out);
      if (!pool_geometry.is_max) divisors = pool_planes::avg_divisors<T>(pool_geometry);
      return;
    }
    conv = depthwise_geometry(x.shape(), w.shape(), out, s.conv);
    input = std::make_unique<depthwise_planes::InputPlan>(conv);
    input_grad = std::make_unique<depthwise_planes::InputGradientPlan>(conv);
    weights = w.data<T>();
    taps = conv.R * conv.S;
  }
  const T* filter(int64_t plane) const { return weights + (plane % conv.C) * taps; }
  // Whether this stencil's framed input is `other`'s: the frame_input arguments that differ.
  bool same_frame(const StencilPlan& other) const {
    const depthwise_planes::FrameLayout &a = input->frame, &b = other.input->frame;
    return !other.pool && a.k == b.k && a.phases == b.phases && a.height == b.height &&
           a.width == b.width && conv.stride == other.conv.stride &&
           conv.pad_h == other.conv.pad_h && conv.pad_w == other.conv.pad_w &&
           conv.relu_input == other.conv.relu_input;
  }
};

template <class T>
std::vector<StencilPlan<T>> plans_of(const Tensor& x, const std::vector<Tensor>& weights,
                                     const Shape& out, const std::vector<Stencil>& stencils) {
  std::vector<StencilPlan<T>> plans;
  plans.reserve(stencils.size());
  for (size_t k = 0; k < stencils.size(); ++k) {
    plans.emplace_back(x, weights[k], out, stencils[k]);
    StencilPlan<T>& s = plans.back();
    s.shares = k;
    for (size_t j = 0; j < k && s.shares == k; ++j)
      if (s.pool ? plans[j].pool && plans[j].pool_geometry == s.pool_geometry
                 : s.same_frame(plans[j]))
        s.shares = j;
  }
  return plans;
}

// A thread's scratch, reused plane after plane: the families' own, the framed planes and arg-max
// tables stencils share (by the index of the stencil that makes them) and whether this plane's
// are made yet, and the plane's sum of dx contributions where it is added into an existing dx.
template <class T>
struct GroupScratch {
  depthwise_planes::PlaneScratch<T> conv;
  pool_planes::PoolScratch<T> pool;
  std::vector<depthwise_planes::FramedPlane<T>> frames;
  std::vector<pool_planes::ArgTable> tables;
  std::vector<char> made;
  std::vector<T> sum;
  explicit GroupScratch(size_t stencils) : frames(stencils), tables(stencils), made(stencils) {}
};

// Plane `xp`'s frame for stencil s (made once a plane by the stencil it shares it with).
template <int K, class T>
const depthwise_planes::FramedPlane<T>& shared_frame(const StencilPlan<T>& s, const T* xp,
                                                     GroupScratch<T>& scratch) {
  depthwise_planes::FramedPlane<T>& f = scratch.frames[s.shares];
  if (!scratch.made[s.shares]) {
    s.input->template frame_input<K>(f, xp, s.conv, PlaneNorm<T>{});
    scratch.made[s.shares] = 1;
  }
  return f;
}

// Planes of this many output values or more in all before a second thread pays for waking.
constexpr int64_t kParallelValues = 8192;
}  // namespace

void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils,
                           const std::vector<Tensor>& moments) {
  const Shape out = ys[0].shape();
  const int64_t planes = x.size(0) * x.size(1), in_size = x.size(2) * x.size(3);
  const int64_t out_size = out[2] * out[3];
  dispatch_float(x.dtype(), "stencil_group_forward", [&]<class T>() {
    const std::vector<StencilPlan<T>> plans = plans_of<T>(x, weights, out, stencils);
    const T* px = x.data<T>();
    std::vector<T*> py;
    for (Tensor& y : ys) py.push_back(y.data<T>());
#pragma omp parallel if (planes * out_size * std::ssize(plans) > kParallelValues)
    {
      GroupScratch<T> scratch(plans.size());
#pragma omp for
      for (int64_t plane = 0; plane < planes; ++plane) {
        const T* xp = px + plane * in_size;
        std::fill(scratch.made.begin(), scratch.made.end(), 0);
        for (size_t k = 0; k < plans.size(); ++k) {
          const StencilPlan<T>& s = plans[k];
          T* yp = py[k] + plane * out_size;
          if (s.pool && s.shares < k)  // the same windows: the same values
            std::memcpy(yp, py[s.shares] + plane * out_size, out_size * sizeof(T));
          else if (s.pool)
            pool_planes::with_fixed_window(s.pool_geometry, [&]<int K, int STRIDE>() {
              pool_planes::forward_plane<K, STRIDE>(s.pool_geometry, xp, s.divisors.data(), yp,
                                                    scratch.pool);
            });
          else
            depthwise_planes::with_stride(s.conv.stride, [&]<int K>() {
              depthwise_planes::correlate_plane(*s.input, shared_frame<K>(s, xp, scratch), s.conv,
                                                s.filter(plane), yp, scratch.conv.run);
            });
          if (has_parts(moments, k))
            form_plane_moment_parts(yp, plane, x.size(1), out_size, moments[k].data<double>());
        }
      }
    }
  });
}

void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode) {
  const bool accumulate = dx.defined() && dx_mode == GradMode::Accumulate;
  Shape out;  // any gradient's shape: the group's common output shape
  for (const Tensor& dy : dys)
    if (dy.defined()) out = dy.shape();
  if (out.empty()) {  // no stencil sends dx a contribution: a written dx is zero
    if (dx.defined() && !accumulate) dx.fill_(0.0);
    return;
  }
  const int64_t N = x.size(0), planes = N * x.size(1), in_size = x.size(2) * x.size(3);
  const int64_t out_size = out[2] * out[3];
  dispatch_float(x.dtype(), "stencil_group_backward", [&]<class T>() {
    const std::vector<StencilPlan<T>> plans = plans_of<T>(x, weights, out, stencils);
    const T* px = x.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    // Each depthwise stencil's dw per plane in double, reduced per channel after the planes (no
    // shared writes, and the result does not depend on the thread count).
    std::vector<std::vector<double>> plane_dw(plans.size());
    for (size_t k = 0; k < plans.size(); ++k)
      if (dys[k].defined() && dweights[k].defined())
        plane_dw[k].resize(static_cast<size_t>(planes) * plans[k].taps);
#pragma omp parallel if (planes * out_size * std::ssize(plans) > kParallelValues)
    {
      GroupScratch<T> scratch(plans.size());
      if (accumulate) scratch.sum.resize(static_cast<size_t>(in_size));
#pragma omp for
      for (int64_t plane = 0; plane < planes; ++plane) {
        const T* xp = px + plane * in_size;
        std::fill(scratch.made.begin(), scratch.made.end(), 0);
        // The plane's sum of contributions: straight into dx where dx is written, else apart.
        T* sum = pdx ? (accumulate ? scratch.sum.data() : pdx + plane * in_size) : nullptr;
        bool first = true;  // the first contribution is written, the later ones add
        for (size_t k = 0; k < plans.size(); ++k) {
          if (!dys[k].defined()) continue;
          const StencilPlan<T>& s = plans[k];
          const T* dyp = dys[k].data<T>() + plane * out_size;
          if (s.pool) {
            if (!sum) continue;
            pool_planes::with_fixed_window(s.pool_geometry, [&]<int K, int STRIDE>() {
              if (!pool_planes::uses_arg_table<K, STRIDE>(s.pool_geometry)) {
                pool_planes::backward_plane<K, STRIDE>(s.pool_geometry, xp, dyp, s.divisors.data(),
                                                       sum, !first, scratch.pool);
                return;
              }
              pool_planes::ArgTable& table = scratch.tables[s.shares];
              if (!scratch.made[s.shares]) {  // the arg-max table of these windows on this plane
                pool_planes::make_arg_table<K>(xp, s.pool_geometry, scratch.pool.frame, table);
                scratch.made[s.shares] = 1;
              }
              pool_planes::backward_plane<K, STRIDE>(s.pool_geometry, xp, dyp, s.divisors.data(),
                                                     sum, !first, scratch.pool, &table);
            });
          } else {
            double* dw_taps = plane_dw[k].empty() ? nullptr : plane_dw[k].data() + plane * s.taps;
            if (!sum && !dw_taps) continue;
            depthwise_planes::with_stride(s.conv.stride, [&]<int K>() {
              if (sum)
                depthwise_planes::input_grad_plane<K>(*s.input_grad, s.conv, xp, dyp,
                                                      s.filter(plane), PlaneNorm<T>{}, sum, !first,
                                                      scratch.conv);
              if (dw_taps)
                depthwise_planes::weight_sums(*s.input, shared_frame<K>(s, xp, scratch), s.conv,
                                              dyp, dw_taps, scratch.conv.framed_dy);
            });
          }
          if (sum) first = false;
        }
        if (accumulate) {
          T* dx_plane = pdx + plane * in_size;
          for (int64_t i = 0; i < in_size; ++i) dx_plane[i] += sum[i];
        }
      }
    }
    for (size_t k = 0; k < plans.size(); ++k)
      if (!plane_dw[k].empty())
        depthwise_planes::add_plane_weight_sums(plane_dw[k], N, plans[k].conv.C, plans[k].taps,
                                                dweights[k].data<T>());
  });
}

AN_CPU_KERNELS_END
