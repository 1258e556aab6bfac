// The stencil group's tiled forward (kernels/cuda/stencil_tile.cuh, host and device code) run on
// the host block by block: each block's staged region, then every thread's outputs of every
// member, against the CPU twin (each output written once; depthwise outputs bit for bit against
// the per-position function the gather kernel computes, depthwise_output). The shapes cover the
// tilings: a 32×32 plane a block (four outputs a thread), planes in several blocks, several
// planes a block, odd sizes whose runs straddle rows, stride 2, and a filter of no DARTS size.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/depthwise_group_tile.cuh"
#include "kernels/cuda/stencil_tile.cuh"
#include "kernels/cuda/stencil_tile_grad.cuh"
#include "kernels/stencil_group.h"
#include "tests/kernels/group_checks.h"

namespace autonet::test {
namespace {

// A member of a test group: a depthwise filter (kernel, pad, dilation) or a 3×3 pool.
struct Spec {
  bool pool;
  int64_t kernel, pad, dilation;
  PoolMode mode = PoolMode::max;
  bool relu = true;
  int64_t stride = 0;  // 0: the group's
};

std::vector<Spec> darts_state() {  // the 24 stencils of a DARTS state's four edges
  std::vector<Spec> specs;
  for (int edge = 0; edge < 4; ++edge)
    for (const Spec& s :
         {Spec{true, 3, 1, 1}, Spec{true, 3, 1, 1, PoolMode::avg}, Spec{false, 3, 1, 1},
          Spec{false, 5, 2, 1}, Spec{false, 3, 2, 2}, Spec{false, 5, 4, 2}})
      specs.push_back(s);
  return specs;
}

Stencil stencil_of(const Spec& s, int64_t group_stride) {
  const int64_t stride = s.stride > 0 ? s.stride : group_stride;
  if (s.pool) {
    Pool2dParams p;
    p.mode = s.mode;
    p.kernel_h = p.kernel_w = s.kernel;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = s.pad;
    p.count_include_pad = false;
    return Stencil::pooling(p);
  }
  DepthwiseConv2dParams p;
  p.stride = stride;
  p.pad_h = p.pad_w = s.pad;
  p.dilation = s.dilation;
  p.relu_input = s.relu;
  return Stencil::depthwise(p);
}

// The group's inputs, outputs and kernel view (members as make_group in stencil_group.cu builds
// them, on host pointers).
struct HostGroup {
  Tensor x;
  std::vector<Tensor> weights, ys;
  std::vector<Stencil> stencils;
  cuda::StencilMembers<float> group{};
  Shape out;
};

HostGroup host_group(const std::vector<Spec>& specs, const Shape& xs, int64_t stride) {
  HostGroup h;
  h.x = random_tensor(xs, DType::f32, 7);
  std::vector<Shape> w_shapes;
  for (size_t k = 0; k < specs.size(); ++k) {
    h.stencils.push_back(stencil_of(specs[k], stride));
    w_shapes.push_back(specs[k].pool ? Shape{} : Shape{xs[1], 1, specs[k].kernel, specs[k].kernel});
    h.weights.push_back(specs[k].pool ? Tensor()
                                      : random_tensor(w_shapes.back(), DType::f32, 20 + k));
  }
  h.out = stencil_group_out_shape(xs, w_shapes, h.stencils);
  EXPECT_LE(specs.size(), size_t(kMaxStencils));
  h.group.count = static_cast<int>(specs.size());
  for (size_t k = 0; k < specs.size(); ++k) {
    h.ys.push_back(Tensor::empty(h.out));
    h.ys.back().fill_(std::nan(""));  // an output never written stays NaN
    cuda::StencilMember<float>& m = h.group.m[k];
    m.is_pool = specs[k].pool;
    if (m.is_pool) {
      m.pool = pool_geometry(h.stencils[k].pool, xs, h.out);
      m.same_as = static_cast<int>(k);
      for (size_t j = 0; j < k; ++j)
        if (h.group.m[j].is_pool && h.group.m[j].pool == m.pool) {
          m.same_as = static_cast<int>(j);
          break;
        }
    } else {
      m.conv = depthwise_geometry(xs, w_shapes[k], h.out, h.stencils[k].conv);
      m.w = h.weights[k].data<float>();
    }
    m.y = h.ys[k].data<float>();
  }
  return h;
}

// The tiled forward's blocks and threads, one after another. Returns the tiling.
cuda::StencilTiling run_tiled_forward(HostGroup& h) {
  const int C = static_cast<int>(h.x.size(1));
  cuda::StencilTiling t;
  EXPECT_TRUE(cuda::make_stencil_tiling(h.group, h.x.size(0) * C, C, static_cast<int>(h.x.size(2)),
                                        static_cast<int>(h.x.size(3)), static_cast<int>(h.out[2]),
                                        static_cast<int>(h.out[3]), t));
  EXPECT_LE(t.shared_elements() * sizeof(float), cuda::kTileSharedBytes);
  std::vector<float> region(static_cast<size_t>(t.planes) * t.region());
  for (int64_t block = 0; block < t.blocks(); ++block) {
    const cuda::TileBlock b = cuda::tile_block(t, block);
    for (int e = 0; e < t.planes * t.region(); ++e)
      region[e] = cuda::staged_value(h.x.data<float>(), t, b, e);
    for (int tid = 0; tid < cuda::kThreads; ++tid) {
      const cuda::ThreadPositions o = cuda::tile_outputs(t, b, tid);
      const int64_t plane = b.plane0 + o.pl;
      cuda::PoolMemo<float> memo;
      for (int k = 0; k < h.group.count; ++k) {
        const cuda::StencilMember<float>& m = h.group.m[k];
        const float* plane_region = region.data() + o.pl * t.region();
        cuda::tile_member_outputs(m, plane_region, t, b, o, static_cast<int>(plane % C), memo,
                                  [&](int j, float v) {
                                    float& y = m.y[plane * h.out[2] * h.out[3] + o.q[j]];
                                    EXPECT_TRUE(std::isnan(y)) << "output " << o.q[j] << " twice";
                                    y = v;
                                  });
      }
    }
  }
  return t;
}

// Every staged read of every output lies in its plane's region: the last tap row and column of
// each member from each block's first output row.
void expect_windows_inside_region(const HostGroup& h, const cuda::StencilTiling& t) {
  for (int64_t block = 0; block < t.blocks(); ++block) {
    const cuda::TileBlock b = cuda::tile_block(t, block);
    const int oh_b = (b.q1 - 1) / t.Wo;
    for (int k = 0; k < h.group.count; ++k) {
      const cuda::StencilMember<float>& m = h.group.m[k];
      const int first = m.is_pool ? -m.pool.ph : -m.conv.pad_h;
      const int last =
          m.is_pool ? m.pool.kh - 1 - m.pool.ph : (m.conv.R - 1) * m.conv.dilation - m.conv.pad_h;
      EXPECT_GE(b.oh_a * t.stride + first - b.row0, 0) << "block " << block << " member " << k;
      EXPECT_LT(oh_b * t.stride + last - b.row0, t.region_h)
          << "block " << block << " member " << k;
      const int first_w = m.is_pool ? -m.pool.pw : -m.conv.pad_w;
      const int last_w =
          m.is_pool ? m.pool.kw - 1 - m.pool.pw : (m.conv.S - 1) * m.conv.dilation - m.conv.pad_w;
      EXPECT_GE(first_w - t.lo_w, 0);
      EXPECT_LT((t.Wo - 1) * t.stride + last_w - t.lo_w, t.region_w);
    }
  }
}

struct TileCase {
  std::vector<Spec> specs;
  Shape x;
  int64_t stride;
  const char* what;
};

// One DARTS edge and two more max pools: windows of another size, then the first size again
// (whose values the memo no longer holds).
std::vector<Spec> two_max_sizes() {
  const std::vector<Spec> state = darts_state();
  std::vector<Spec> specs(state.begin(), state.begin() + 6);
  specs.push_back({true, 5, 2, 1});
  specs.push_back({true, 3, 1, 1});
  return specs;
}

TEST(StencilTile, ForwardMatchesTheCpuTwinAndTheGatherArithmetic) {
  const std::vector<TileCase> cases{
      {two_max_sizes(), {2, 2, 11, 10}, 1, "max pools of two window sizes"},
      {darts_state(), {2, 3, 32, 32}, 1, "a DARTS state at 32×32: a plane a block"},
      {darts_state(), {2, 3, 32, 32}, 2, "reduction: 16×16 outputs, two planes a block"},
      {darts_state(), {3, 5, 8, 8}, 1, "8×8: eight planes a block"},
      {darts_state(), {2, 2, 40, 37}, 1, "planes in two blocks, runs across rows"},
      {darts_state(), {2, 3, 9, 7}, 2, "odd sizes at stride 2"},
      {{{false, 7, 3, 1, PoolMode::max, false}, {true, 3, 1, 1}},
       {2, 2, 13, 11},
       1,
       "a 7×7 filter without ReLU (run-time taps)"},
      {{{false, 5, 2, 1}, {true, 3, 1, 1, PoolMode::avg}}, {1, 1, 1, 1}, 1, "a single pixel"},
  };
  for (const TileCase& tc : cases) {
    SCOPED_TRACE(tc.what);
    HostGroup h = host_group(tc.specs, tc.x, tc.stride);
    const cuda::StencilTiling t = run_tiled_forward(h);
    expect_windows_inside_region(h, t);
    std::vector<Tensor> want;
    for (size_t k = 0; k < tc.specs.size(); ++k) want.push_back(Tensor::empty(h.out));
    stencil_group_forward(h.x, h.weights, want, h.stencils);
    const int C = static_cast<int>(tc.x[1]);
    for (size_t k = 0; k < tc.specs.size(); ++k) {
      const float *got = h.ys[k].data<float>(), *cpu = want[k].data<float>();
      const cuda::StencilMember<float>& m = h.group.m[k];
      for (int64_t i = 0; i < h.ys[k].numel(); ++i) {
        ASSERT_NEAR(got[i], cpu[i], 1e-5f * (1 + std::abs(cpu[i])))
            << "member " << k << " at " << i;
        if (m.is_pool) continue;
        const int64_t plane = i / (h.out[2] * h.out[3]);
        const int at = static_cast<int>(i % (h.out[2] * h.out[3]));
        const float gather = cuda::depthwise_output(m.conv, m.w + (plane % C) * m.conv.R * m.conv.S,
                                                    h.x.data<float>() + plane * tc.x[2] * tc.x[3],
                                                    at / m.conv.Wo, at % m.conv.Wo);
        ASSERT_EQ(got[i], gather) << "member " << k << " at " << i;
      }
    }
  }
}

// The tiled input gradient's blocks and threads, one after another, into dx (written), from the
// group's dys (a member without one passes nothing); `batch` > 0 overrides the staging batch.
Tensor run_tiled_input_grad(const HostGroup& h, int batch = 0) {
  const int C = static_cast<int>(h.x.size(1));
  cuda::StencilGradTiling t;
  EXPECT_TRUE(cuda::make_stencil_grad_tiling(
      h.group, h.x.size(0) * C, C, static_cast<int>(h.x.size(2)), static_cast<int>(h.x.size(3)),
      static_cast<int>(h.out[2]), static_cast<int>(h.out[3]), t));
  EXPECT_LE(t.shared_bytes(sizeof(float)), cuda::kTileSharedBytes);
  if (batch > 0) t.batch = batch;
  Tensor dx = Tensor::empty(h.x.shape());
  dx.fill_(std::nan(""));
  const int cells = t.cells();
  std::vector<float> grad(static_cast<size_t>(t.batch) * cells);
  std::vector<int> arg_max(cells);
  const float* px = h.x.data<float>();
  for (int64_t block = 0; block < t.blocks(); ++block) {
    const cuda::GradBlock b = cuda::grad_block(t, block);
    std::vector<cuda::ThreadPositions> threads;
    std::vector<std::vector<float>> sums, xvs;
    for (int tid = 0; tid < cuda::kThreads; ++tid) {
      threads.push_back(cuda::tile_inputs(t, b, tid));
      sums.emplace_back(cuda::kMaxTileOutputs, 0.0f);
      xvs.emplace_back(cuda::kMaxTileOutputs, 0.0f);
      const cuda::ThreadPositions& o = threads.back();
      for (int j = 0; j < o.count; ++j) xvs.back()[j] = px[(b.plane0 + o.pl) * t.H * t.W + o.q[j]];
    }
    int batch_members[kMaxStencils], n, table_of = -1;
    bool refill;
    for (int k = 0; k < h.group.count;) {
      k = cuda::next_grad_batch(h.group, k, t, batch_members, n, table_of, refill);
      if (n == 0) break;
      if (refill)
        for (int e = 0; e < cells; ++e)
          arg_max[e] = cuda::staged_arg_max(h.group.m[table_of].pool, px, t, b, e);
      for (int i = 0; i < n; ++i)
        for (int e = 0; e < cells; ++e)
          grad[i * cells + e] = cuda::staged_grad(h.group.m[batch_members[i]], t, b, e);
      for (int tid = 0; tid < cuda::kThreads; ++tid) {
        const cuda::ThreadPositions& o = threads[tid];
        float xv[cuda::kMaxTileOutputs], sum[cuda::kMaxTileOutputs];
        std::copy(xvs[tid].begin(), xvs[tid].end(), xv);
        std::copy(sums[tid].begin(), sums[tid].end(), sum);
        for (int i = 0; i < n; ++i)
          cuda::tile_member_grads(h.group.m[batch_members[i]],
                                  grad.data() + i * cells + o.pl * t.region(),
                                  arg_max.data() + o.pl * t.region(), t, b, o,
                                  static_cast<int>((b.plane0 + o.pl) % C), xv, sum);
        std::copy(sum, sum + cuda::kMaxTileOutputs, sums[tid].begin());
      }
    }
    for (int tid = 0; tid < cuda::kThreads; ++tid) {
      const cuda::ThreadPositions& o = threads[tid];
      for (int j = 0; j < o.count; ++j) {
        float& d = dx.data<float>()[(b.plane0 + o.pl) * t.H * t.W + o.q[j]];
        EXPECT_TRUE(std::isnan(d)) << "input " << o.q[j] << " twice";
        d = sums[tid][j];
      }
    }
  }
  return dx;
}

// Output gradients for the group's members; none for the members `without`.
void give_output_grads(HostGroup& h, std::vector<Tensor>& dys, const std::vector<int>& without) {
  for (int k = 0; k < h.group.count; ++k) {
    const bool none = std::find(without.begin(), without.end(), k) != without.end();
    dys.push_back(none ? Tensor() : random_tensor(h.out, DType::f32, 100 + k));
    h.group.m[k].dy = none ? nullptr : dys.back().data<float>();
  }
}

TEST(StencilTile, InputGradientMatchesTheCpuTwinAndTheGatherArithmetic) {
  const std::vector<Spec> two_max = two_max_sizes();  // arg-max tables of two window sizes
  const std::vector<TileCase> cases{
      {darts_state(), {2, 3, 32, 32}, 1, "a DARTS state at 32×32"},
      {darts_state(), {2, 3, 32, 32}, 2, "reduction: 32×32 inputs of 16×16 outputs"},
      {darts_state(), {3, 5, 8, 8}, 1, "8×8: several planes a block"},
      {darts_state(), {2, 2, 40, 37}, 1, "planes in two blocks, runs across rows"},
      {darts_state(), {2, 3, 9, 7}, 2, "odd sizes at stride 2"},
      {two_max, {2, 2, 11, 10}, 1, "max pools of two window sizes"},
      {{{false, 7, 3, 1, PoolMode::max, false}, {true, 3, 1, 1}},
       {2, 2, 13, 11},
       1,
       "a 7×7 filter without ReLU (run-time taps)"},
      {{{false, 3, 1, 1}, {true, 3, 1, 1, PoolMode::avg}}, {1, 1, 5, 5}, 3, "stride 3"},
  };
  for (const TileCase& tc : cases) {
    SCOPED_TRACE(tc.what);
    HostGroup h = host_group(tc.specs, tc.x, tc.stride);
    std::vector<Tensor> dys;
    give_output_grads(h, dys, {1, 8});  // two members pass no gradient
    const Tensor dx = run_tiled_input_grad(h);
    Tensor want = Tensor::empty(tc.x);
    std::vector<Tensor> no_dws(tc.specs.size());
    stencil_group_backward(h.x, h.weights, dys, want, no_dws, h.stencils);
    const float *got = dx.data<float>(), *cpu = want.data<float>();
    for (int64_t i = 0; i < dx.numel(); ++i)
      ASSERT_NEAR(got[i], cpu[i], 1e-5f * (1 + std::abs(cpu[i]))) << "input " << i;
    // Staged one stencil at a time or all at once: the same sums.
    for (int batch : {1, 3}) {
      const Tensor other = run_tiled_input_grad(h, batch);
      for (int64_t i = 0; i < dx.numel(); ++i)
        ASSERT_EQ(other.data<float>()[i], got[i]) << "batch " << batch << ", input " << i;
    }
    // Each depthwise stencil alone: the gather kernel's sum (depthwise_input_grad), bit for bit.
    for (int k = 0; k < h.group.count; ++k) {
      const cuda::StencilMember<float>& m = h.group.m[k];
      if (m.is_pool || !m.dy) continue;
      HostGroup one = h;
      one.group.count = 1;
      one.group.m[0] = m;
      const Tensor alone = run_tiled_input_grad(one);
      const int64_t planes = tc.x[0] * tc.x[1], plane_size = tc.x[2] * tc.x[3];
      for (int64_t plane = 0; plane < planes; ++plane)
        for (int at = 0; at < plane_size; ++at) {
          const float gather = cuda::depthwise_input_grad(
              m.conv, m.w + (plane % tc.x[1]) * m.conv.R * m.conv.S,
              h.x.data<float>() + plane * plane_size, m.dy + plane * h.out[2] * h.out[3],
              at / static_cast<int>(tc.x[3]), at % static_cast<int>(tc.x[3]));
          ASSERT_EQ(alone.data<float>()[plane * plane_size + at], gather)
              << "member " << k << ", plane " << plane << ", input " << at;
        }
    }
  }
}

// One depthwise-group member on tiles, forward and dx, through a folded BN (per-channel mean and
// invstd) and ReLU: every output and input gradient bit for bit against the per-position
// gathers it replaces (depthwise_output, depthwise_input_grad with the same PlaneNorm).
TEST(StencilTile, DepthwiseGroupMemberMatchesTheGatherArithmetic) {
  struct Case {
    int64_t kernel, pad, dilation, stride;
    Shape x;
  };
  const std::vector<Case> cases{{3, 1, 1, 1, {2, 3, 32, 32}}, {5, 2, 1, 1, {2, 3, 16, 16}},
                                {3, 2, 2, 1, {3, 5, 8, 8}},   {5, 4, 2, 2, {2, 2, 9, 7}},
                                {5, 2, 1, 2, {2, 3, 32, 32}}, {7, 3, 1, 1, {1, 2, 13, 11}}};
  for (const Case& tc : cases) {
    SCOPED_TRACE(std::to_string(tc.kernel) + "x" + std::to_string(tc.kernel) + " dilation " +
                 std::to_string(tc.dilation) + " stride " + std::to_string(tc.stride) + " on " +
                 shape_str(tc.x));
    const int64_t C = tc.x[1];
    const DepthwiseConv2dParams p{tc.stride, tc.pad, tc.pad, tc.dilation, true};
    const Tensor x = random_tensor(tc.x, DType::f32, 3);
    const Tensor w = random_tensor({C, 1, tc.kernel, tc.kernel}, DType::f32, 4);
    const Tensor mean = random_tensor({C}, DType::f32, 5);
    Tensor invstd = random_tensor({C}, DType::f32, 6);
    for (int64_t c = 0; c < C; ++c) invstd.data<float>()[c] = 1.5f + invstd.data<float>()[c];
    const Shape out = depthwise_conv2d_out_shape(x.shape(), w.shape(), p);
    const Tensor dy = random_tensor(out, DType::f32, 8);
    const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), out, p);
    const float *px = x.data<float>(), *pw = w.data<float>(), *pdy = dy.data<float>();
    const float *pm = mean.data<float>(), *pi = invstd.data<float>();
    const int64_t planes = tc.x[0] * C;
    auto filter = [&](int64_t plane) { return pw + (plane % C) * g.R * g.S; };
    auto norm = [&](int64_t plane) {
      return cuda::channel_norm(pm, pi, static_cast<int>(plane % C));
    };

    cuda::StencilTiling t;
    ASSERT_TRUE(cuda::plan_output_tiles(cuda::reach_of(g), planes, g.C, g.H, g.W, g.Ho, g.Wo, false,
                                        sizeof(float), t));
    std::vector<float> region(static_cast<size_t>(t.planes) * t.region());
    int outputs = 0;
    for (int64_t block = 0; block < t.blocks(); ++block) {
      const cuda::TileBlock b = cuda::tile_block(t, block);
      for (int e = 0; e < t.planes * t.region(); ++e)
        region[e] = cuda::staged_tap_input(px, g, pm, pi, t, b, e);
      for (int tid = 0; tid < cuda::kThreads; ++tid) {
        const cuda::ThreadPositions o = cuda::tile_outputs(t, b, tid);
        const int64_t plane = b.plane0 + o.pl;
        cuda::tile_depthwise_any(
            g, filter(plane), false, region.data() + o.pl * t.region(), t, b, o,
            [&](int j, float v) {
              ++outputs;
              ASSERT_EQ(v, cuda::depthwise_output(g, filter(plane), px + plane * g.H * g.W,
                                                  o.row[j], o.col[j], norm(plane)))
                  << "plane " << plane << ", output " << o.q[j];
            });
      }
    }
    EXPECT_EQ(outputs, shape_numel(out));

    cuda::StencilGradTiling gt;
    ASSERT_TRUE(cuda::plan_input_tiles(cuda::reach_of(g), planes, g.C, g.H, g.W, g.Ho, g.Wo, 1,
                                       false, true, sizeof(float), gt));
    std::vector<float> grad(gt.cells());
    int inputs = 0;
    for (int64_t block = 0; block < gt.blocks(); ++block) {
      const cuda::GradBlock b = cuda::grad_block(gt, block);
      for (int e = 0; e < gt.cells(); ++e) grad[e] = cuda::staged_output_grad(pdy, gt, b, e);
      for (int tid = 0; tid < cuda::kThreads; ++tid) {
        const cuda::ThreadPositions o = cuda::tile_inputs(gt, b, tid);
        const int64_t plane = b.plane0 + o.pl;
        float xv[cuda::kMaxTileOutputs] = {}, sum[cuda::kMaxTileOutputs] = {};
        for (int j = 0; j < o.count; ++j) xv[j] = norm(plane)(px[plane * g.H * g.W + o.q[j]]);
        cuda::tile_depthwise_grad_any(g, filter(plane), grad.data() + o.pl * gt.region(), gt, b, o,
                                      xv, sum);
        for (int j = 0; j < o.count; ++j, ++inputs)
          ASSERT_EQ(sum[j], cuda::depthwise_input_grad(g, filter(plane), px + plane * g.H * g.W,
                                                       pdy + plane * g.Ho * g.Wo, o.row[j],
                                                       o.col[j], norm(plane)))
              << "plane " << plane << ", input " << o.q[j];
      }
      // Blocks keep whole runs of inputs for the gradient sums (or a whole plane).
      EXPECT_TRUE(b.p0 % kMomentRun == 0);
    }
    EXPECT_EQ(inputs, x.numel());
  }
}

// The groups the tiled forward leaves to the gather kernel, and the tilings it picks.
TEST(StencilTile, TilingAtTheDartsShapesAndWhereItStepsAside) {
  const cuda::StencilTiling t32 = [] {
    HostGroup h = host_group(darts_state(), {64, 16, 32, 32}, 1);
    return run_tiled_forward(h);
  }();
  EXPECT_EQ(t32.planes, 1);
  EXPECT_EQ(t32.per_thread, 4);
  EXPECT_EQ(t32.blocks(), 64 * 16);
  EXPECT_EQ(t32.region_h, 40);  // the dilated 5×5's ±4 rows around 32
  EXPECT_EQ(t32.region_w, 40);

  cuda::StencilTiling t;
  HostGroup mixed = host_group(
      {{false, 5, 0, 1, PoolMode::max, true, 1}, {true, 3, 1, 1, PoolMode::max, true, 2}},
      {1, 2, 9, 9}, 1);
  ASSERT_EQ(mixed.out, (Shape{1, 2, 5, 5}));  // both 5×5: one at stride 1, one at stride 2
  EXPECT_FALSE(cuda::make_stencil_tiling(mixed.group, 2, 2, 9, 9, 5, 5, t));
  HostGroup wide = host_group({{false, 3, 1, 1}, {true, 3, 1, 1}}, {1, 1, 3, 6000}, 1);
  EXPECT_FALSE(cuda::make_stencil_tiling(wide.group, 1, 1, 3, 6000, 3, 6000, t));
}

}  // namespace
}  // namespace autonet::test
