// CUDA twin of the pointwise group: hand-written tiled GEMM kernels, the members' pointers
// travelling by value in the kernel parameters (as stencil_group.cu does), so a whole group is one
// launch per pass:
//  - forward: y_k[n] [Co, P] = w_k [Co, C] · x_k[n] [C, P]   (P = H·W: NCHW read as it is);
//  - dx:      dx_k[n] [C, P] = w_kᵀ · dy_k[n], written or added per member (old + sum, once
//             rounded, as the CPU twin adds conv2d's dx); no dy: a written dx is zero-filled;
//  - dw:      dw_k [Co, C] += Σ_n dy_k[n] · x_k[n]ᵀ, blocks per (member, dw tile) splitting the
//             samples × pixels (pointwise_weight_grad_split: up to 64 blocks, each a run of
//             (sample, 512-pixel slice) units, staged 64 deep), in thread block clusters (sm_90)
//             whose block 0 adds the blocks' tiles, ranks in order (cluster_sums.cuh, as the
//             depthwise weight gradients do); with more than one cluster per tile, into partial
//             tiles that a second kernel adds in cluster order. No atomics.
// relu_input: forward and dw stage relu(x) (the ReLU applied as x's tile is loaded), and the dx
// epilogue multiplies by relu'(x), read at the element it writes (elementwise_math.h).
// moments: the forward epilogue also forms each output row's moments over the tile's columns, a
// part of kernels/channel_moments.h (a tile's columns are one kMomentRun run of a sample's
// pixels): the 16 threads sharing a row sum it by warp shuffles, mean first, then M2 around it.
// Forward and dx run batched over (member, sample) by the grid's z. Every output element is one
// thread's running sum over the inner dimension in order (dw: then the cluster's blocks in rank
// order, then the clusters in order): no atomics, so results are bit-reproducible run to run.
#include <algorithm>
#include <climits>

#include "kernels/cuda/cluster_sums.cuh"
#include "kernels/elementwise_math.h"
#include "kernels/pointwise_group.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// A block computes a kRows × kCols tile of C, each side 16, 32 or 64: the smallest that covers the
// GEMM's side up to 64, so the DARTS shapes (16 to 64 channels) waste no tile rows or columns.
constexpr int kMaxTile = 64;
constexpr int kTileK = 16;               // inner-dimension slice staged in shared memory per step
constexpr int kSide = 16;                // threads per block side: 16 × 16
constexpr int kThreads = kSide * kSide;  // each computes a (kRows / 16) × (kCols / 16) micro-tile
constexpr int64_t kMaxGridZ = 65535;

// How a GEMM reads an operand: element (i, j) at p[i·row + j·col], so wᵀ (for dx) and xᵀ (for dw)
// are read in place; `sample` is the distance between samples' matrices (0: one shared matrix).
struct Strides {
  int64_t row, col, sample;
};

// One member's GEMM C = A · B in the batch. a == nullptr: no product (the member got no output
// gradient), C is written with zeros.
template <class T>
struct Job {
  const T* a;
  const T* b;
  T* c;
  bool accumulate;  // C += A · B instead of C = A · B
  // dx through a folded ReLU: each product times relu'(x), x laid out as C (null: none).
  const T* relu_x = nullptr;
  double* moments = nullptr;  // forward: C's moment parts [samples · runs, rows, 3] (null: none)
};

// A group's GEMMs, all of one size: per job and sample, C [rows, cols] (row-major, rows `cols`
// apart, samples c_sample apart) from A [rows, inner] and B [inner, cols].
template <class T>
struct Batch {
  int count = 0;
  int64_t samples = 0, rows = 0, cols = 0, inner = 0;
  Strides a{}, b{};
  bool relu_b = false;  // B is x under a folded ReLU: staged as relu(x)
  int64_t c_sample = 0;
  int64_t runs = 0;     // moment parts per sample: column tiles of kMomentRun
  Job<T> job[kMaxGroupMembers];
};

// Stages a kWidth-wide, kDepth-deep slice of an operand as tile[k][i], zero outside the matrix:
// element (i, k) for i in [i0, i0 + kWidth), k in [k0, k0 + kDepth) is p[i·i_stride + k·k_stride]
// (A's rows are i, B's columns are i), k below k_end. Consecutive threads read consecutive
// addresses: along k when k_stride is 1, else along i. The row padding (+1) keeps the k-major
// stores conflict-free.
template <int kWidth, int kDepth, class T>
__device__ void stage(const T* p, int64_t i_stride, int64_t k_stride, int64_t extent,
                      int64_t k_end, int64_t i0, int64_t k0, bool relu,
                      T (&tile)[kDepth][kWidth + 1]) {
  for (int e = threadIdx.x; e < kWidth * kDepth; e += kThreads) {
    const int kk = k_stride == 1 ? e % kDepth : e / kWidth;
    const int ii = k_stride == 1 ? e / kDepth : e % kWidth;
    const int64_t i = i0 + ii, k = k0 + kk;
    const T v = i < extent && k < k_end ? p[i * i_stride + k * k_stride] : T(0);
    tile[kk][ii] = relu ? unary_value(UnaryOp::relu, v) : v;
  }
}

// acc += this block's C tile of A · B over the inner range [k_begin, k_end) for one (job, sample):
// rows m0 + ty + kSide·i, columns n0 + tx + kSide·j of thread (tx, ty), each summing the range
// in order, kDepth at a time (the zero padding of the last slice adds exact zeros). Every thread
// of the block calls it; it ends on a barrier, so the tiles are free again on return.
template <int kRows, int kCols, int kDepth, class T>
__device__ void accumulate_tile(const T* a, const T* b, const Batch<T>& batch, int64_t m0,
                                int64_t n0, int64_t k_begin, int64_t k_end,
                                T (&acc)[kRows / kSide][kCols / kSide],
                                T (&a_tile)[kDepth][kRows + 1], T (&b_tile)[kDepth][kCols + 1]) {
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kDepth) {
    stage<kRows>(a, batch.a.row, batch.a.col, batch.rows, k_end, m0, k0, false, a_tile);
    stage<kCols>(b, batch.b.col, batch.b.row, batch.cols, k_end, n0, k0, batch.relu_b, b_tile);
    __syncthreads();
    for (int kk = 0; kk < kDepth; ++kk) {
      T av[kRows / kSide], bv[kCols / kSide];
      for (int i = 0; i < kRows / kSide; ++i) av[i] = a_tile[kk][ty + kSide * i];
      for (int j = 0; j < kCols / kSide; ++j) bv[j] = b_tile[kk][tx + kSide * j];
      for (int i = 0; i < kRows / kSide; ++i)
        for (int j = 0; j < kCols / kSide; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();  // the tiles are restaged next step (or next call)
  }
}

static_assert(kMaxTile == kMomentRun, "a column tile of the forward GEMM is one moment run");

// Sums v over the 16 threads of the block that share threadIdx.x / kSide (one half-warp).
__device__ inline double row_sum(double v) {
  for (int offset = kSide / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffff, v, offset, kSide);
  return v;
}

// The moment part of each of this thread's tile rows over the tile's columns, into parts
// [part, rows, 3] at `part` (run blockIdx.x of its sample); every thread of the block calls it.
template <int kRows, int kCols, class T>
__device__ void write_row_moments(const T (&acc)[kRows / kSide][kCols / kSide], int64_t m0,
                                  int64_t n0, int64_t rows, int64_t cols, int64_t part,
                                  double* parts) {
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  for (int i = 0; i < kRows / kSide; ++i) {
    double sum = 0, count = 0;
    for (int j = 0; j < kCols / kSide; ++j)
      if (n0 + tx + kSide * j < cols) sum += double(acc[i][j]), count += 1;
    sum = row_sum(sum), count = row_sum(count);
    const double mean = count > 0 ? sum / count : 0;
    double m2 = 0;
    for (int j = 0; j < kCols / kSide; ++j) {
      const double d = double(acc[i][j]) - mean;
      if (n0 + tx + kSide * j < cols) m2 += d * d;
    }
    m2 = row_sum(m2);
    const int64_t m = m0 + ty + kSide * i;
    if (tx == 0 && m < rows) {
      double* out = parts + (part * rows + m) * 3;
      out[0] = count, out[1] = mean, out[2] = m2;
    }
  }
}

// Block (x, y) computes the C tile at rows y·kRows, columns x·kCols of every (job, sample) z
// assigned to it.
template <class T, int kRows, int kCols>
__global__ void __launch_bounds__(kThreads) batched_gemm_kernel(Batch<T> batch) {
  constexpr int kMicroRows = kRows / kSide, kMicroCols = kCols / kSide;
  __shared__ T a_tile[kTileK][kRows + 1];
  __shared__ T b_tile[kTileK][kCols + 1];
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t m0 = int64_t(blockIdx.y) * kRows, n0 = int64_t(blockIdx.x) * kCols;
  for (int64_t z = blockIdx.z; z < batch.count * batch.samples; z += gridDim.z) {
    const Job<T>& job = batch.job[z / batch.samples];
    const int64_t s = z % batch.samples;
    T acc[kMicroRows][kMicroCols];
    for (int i = 0; i < kMicroRows; ++i)
      for (int j = 0; j < kMicroCols; ++j) acc[i][j] = T(0);
    if (job.a)  // uniform across the block: the barriers inside are reached by every thread
      accumulate_tile<kRows, kCols, kTileK>(job.a + s * batch.a.sample,
                                            job.b + s * batch.b.sample, batch, m0, n0, 0,
                                            batch.inner, acc, a_tile, b_tile);
    T* c = job.c + s * batch.c_sample;
    const T* relu_x = job.relu_x ? job.relu_x + s * batch.c_sample : nullptr;
    for (int i = 0; i < kMicroRows; ++i) {
      const int64_t m = m0 + ty + kSide * i;
      if (m >= batch.rows) continue;
      for (int j = 0; j < kMicroCols; ++j) {
        const int64_t n = n0 + tx + kSide * j;
        if (n >= batch.cols) continue;
        const int64_t e = m * batch.cols + n;
        // Through a folded ReLU as relu's backward forms it: the product times relu'(x).
        const T v = relu_x ? acc[i][j] * unary_derivative(UnaryOp::relu, relu_x[e], T(0))
                           : acc[i][j];
        c[e] = job.accumulate ? c[e] + v : v;
      }
    }
    if (job.moments)  // uniform across the block: the shuffles inside see every thread
      write_row_moments<kRows, kCols>(acc, m0, n0, batch.rows, batch.cols,
                                      s * batch.runs + blockIdx.x, job.moments);
  }
}

// The weight gradient's staging depth: 64 products per barrier pair in float, 32 in double (the
// two staging tiles of a 64 × 64 C tile then fill 33 KiB either way).
template <class T>
constexpr int kDwDepth = 256 / static_cast<int>(sizeof(T));

// A weight-gradient block's shared memory: the staging tiles while it sums its share, then its
// C tile for the cluster's block 0 to read (one after the other, so they share the bytes).
template <class T, int kRows, int kCols>
union WeightGradShared {
  struct {
    T a[kDwDepth<T>][kRows + 1];
    T b[kDwDepth<T>][kCols + 1];
  } staged;
  T sums[kRows * kCols];
};

// Every job's C += Σ_samples A · B (the weight gradients), split as pointwise_weight_grad_split
// says: a 1-D grid, job-major then row tile, column tile, cluster; cluster g's rank r is slice
// q = g·ranks + r of the units (sample, kPointwiseDwSlice pixels), summing units
// [U·q/Q, U·(q+1)/Q) in order. Block 0 of each cluster adds its ranks' tiles in order into C, or
// with more than one cluster writes them to `partial` [job, cluster, rows, cols].
template <class T, int kRows, int kCols>
__global__ void __launch_bounds__(kThreads)
    weight_grad_kernel(Batch<T> batch, PointwiseWeightGradSplit split, T* partial) {
  constexpr int kMicroRows = kRows / kSide, kMicroCols = kCols / kSide;
  __shared__ WeightGradShared<T, kRows, kCols> shared;
  const int64_t ranks = cooperative_groups::this_cluster().num_blocks();
  const int64_t rank = cooperative_groups::this_cluster().block_rank();
  const int64_t row_tiles = (batch.rows + kRows - 1) / kRows;
  const int64_t col_tiles = (batch.cols + kCols - 1) / kCols;
  const int64_t cluster = blockIdx.x / ranks, g = cluster % split.clusters;
  const int64_t tile = cluster / split.clusters, job_index = tile / (row_tiles * col_tiles);
  const Job<T>& job = batch.job[job_index];
  const int64_t m0 = tile / col_tiles % row_tiles * kRows, n0 = tile % col_tiles * kCols;
  T acc[kMicroRows][kMicroCols];
  for (int i = 0; i < kMicroRows; ++i)
    for (int j = 0; j < kMicroCols; ++j) acc[i][j] = T(0);
  const int64_t q = g * ranks + rank, slices = split.slices();
  for (int64_t u = split.units * q / slices; u < split.units * (q + 1) / slices; ++u) {
    const int64_t s = u / split.per_sample, k0 = u % split.per_sample * kPointwiseDwSlice;
    accumulate_tile<kRows, kCols, kDwDepth<T>>(
        job.a + s * batch.a.sample, job.b + s * batch.b.sample, batch, m0, n0, k0,
        std::min(k0 + kPointwiseDwSlice, batch.inner), acc, shared.staged.a, shared.staged.b);
  }
  // accumulate_tile ended on a barrier (or never staged): the staging tiles are done with.
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  for (int i = 0; i < kMicroRows; ++i)
    for (int j = 0; j < kMicroCols; ++j)
      shared.sums[(ty + kSide * i) * kCols + tx + kSide * j] = acc[i][j];
  const int64_t size = batch.rows * batch.cols;
  T* out = partial ? partial + (job_index * split.clusters + g) * size : nullptr;
  for_each_cluster_sum(shared.sums, kRows * kCols, [&](int e, T sum) {
    const int64_t m = m0 + e / kCols, n = n0 + e % kCols;
    if (m >= batch.rows || n >= batch.cols) return;
    if (out)
      out[m * batch.cols + n] = sum;
    else
      job.c[m * batch.cols + n] += sum;
  });
}

// C[e] += Σ_g partial[job, g, e], clusters in order: a thread per (job, element).
template <class T>
__global__ void __launch_bounds__(kThreads)
    add_partial_tiles_kernel(Batch<T> batch, int64_t clusters, const T* __restrict__ partial) {
  const int64_t size = batch.rows * batch.cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < batch.count * size;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t job = i / size, e = i % size;
    T sum = 0;
    for (int64_t g = 0; g < clusters; ++g) sum += partial[(job * clusters + g) * size + e];
    batch.job[job].c[e] += sum;
  }
}

template <class T, int kRows, int kCols>
void launch_tiled(const Batch<T>& batch, cudaStream_t s) {
  const int64_t row_tiles = (batch.rows + kRows - 1) / kRows;
  const int64_t col_tiles = (batch.cols + kCols - 1) / kCols;
  AN_CHECK(row_tiles <= 65535 && col_tiles <= INT_MAX)
      << "pointwise_group: a " << batch.rows << "×" << batch.cols
      << " GEMM has too many tiles for the grid";
  const dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles),
                  static_cast<unsigned>(std::min(batch.count * batch.samples, kMaxGridZ)));
  batched_gemm_kernel<T, kRows, kCols><<<grid, kThreads, 0, s>>>(batch);
  AN_CUDA_CHECK_LAUNCH();
}

// The tile side for a GEMM side of `extent`: 16, 32 or kMaxTile.
int tile_side(int64_t extent) { return extent <= 16 ? 16 : extent <= 32 ? 32 : kMaxTile; }

// f.template operator()<kRows, kCols>() with the tile sized to a rows × cols GEMM.
template <class F>
void with_tile(int64_t rows, int64_t cols, F&& f) {
  auto with_rows = [&]<int kRows>() {
    switch (tile_side(cols)) {
      case 16: return f.template operator()<kRows, 16>();
      case 32: return f.template operator()<kRows, 32>();
      default: return f.template operator()<kRows, kMaxTile>();
    }
  };
  switch (tile_side(rows)) {
    case 16: return with_rows.template operator()<16>();
    case 32: return with_rows.template operator()<32>();
    default: return with_rows.template operator()<kMaxTile>();
  }
}

// One launch for the whole batch, its tile sized to the GEMM.
template <class T>
void launch_batched_gemm(const Batch<T>& batch, cudaStream_t s) {
  with_tile(batch.rows, batch.cols,
            [&]<int kRows, int kCols>() { launch_tiled<T, kRows, kCols>(batch, s); });
}

// One cluster launch for every job's C += Σ_samples A · B, its tile sized to the GEMM; with more
// than one cluster per tile, their partial tiles and a launch adding them.
template <class T>
void launch_weight_grads(const Batch<T>& batch, const Device& device, cudaStream_t s) {
  const PointwiseWeightGradSplit split = pointwise_weight_grad_split(batch.samples, batch.inner);
  Tensor partial;
  if (split.clusters > 1)
    partial = Tensor::empty(Shape{batch.count * split.clusters * batch.rows * batch.cols},
                            dtype_of<T>(), device);
  T* partials = partial.defined() ? partial.data<T>() : nullptr;
  with_tile(batch.rows, batch.cols, [&]<int kRows, int kCols>() {
    const int64_t tiles = batch.count * ((batch.rows + kRows - 1) / kRows) *
                          ((batch.cols + kCols - 1) / kCols);
    AN_CHECK(tiles * split.slices() <= INT_MAX)
        << "pointwise_group: a " << batch.rows << "×" << batch.cols
        << " weight gradient has too many tiles for the grid";
    launch_in_clusters(weight_grad_kernel<T, kRows, kCols>,
                       static_cast<unsigned>(tiles * split.slices()), kThreads,
                       static_cast<unsigned>(split.ranks), 0, s, batch, split, partials);
  });
  if (!partials) return;
  const unsigned grid = grid_for(batch.count * batch.rows * batch.cols, kThreads);
  add_partial_tiles_kernel<T><<<grid, kThreads, 0, s>>>(batch, split.clusters, partials);
  AN_CUDA_CHECK_LAUNCH();
}

// The members' GEMM sizes: N samples, C input and Co output channels, P pixels.
struct Dims {
  int64_t N, C, Co, P;
};
Dims dims_of(const Tensor& x, const Tensor& w) {
  return {x.size(0), x.size(1), w.size(0), x.size(2) * x.size(3)};
}

}  // namespace

void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys, bool relu_input,
                             const std::vector<Tensor>& moments) {
  if (ys[0].numel() == 0) return;
  const Dims d = dims_of(xs[0], ws[0]);
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "pointwise_group_forward", [&]<class scalar_t>() {
    Batch<scalar_t> batch{};  // y [Co, P] = w [Co, C] · x [C, P]
    batch.samples = d.N;
    batch.rows = d.Co;
    batch.cols = d.P;
    batch.inner = d.C;
    batch.a = {d.C, 1, 0};
    batch.b = {d.P, 1, d.C * d.P};
    batch.relu_b = relu_input;
    batch.c_sample = d.Co * d.P;
    batch.runs = (d.P + kMomentRun - 1) / kMomentRun;
    for (size_t k = 0; k < xs.size(); ++k) {
      Job<scalar_t>& job = batch.job[batch.count++];
      job = {ws[k].data<scalar_t>(), xs[k].data<scalar_t>(), ys[k].data<scalar_t>(), false};
      if (has_parts(moments, k)) job.moments = moments[k].data<double>();
    }
    launch_batched_gemm(batch, s);
  });
}

void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes,
                              bool relu_input) {
  const Dims d = dims_of(xs[0], ws[0]);
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "pointwise_group_backward", [&]<class scalar_t>() {
    Batch<scalar_t> dw{};  // dw [Co, C] += Σ_n dy[n] [Co, P] · x[n]ᵀ [P, C]
    dw.samples = d.N;
    dw.rows = d.Co;
    dw.cols = d.C;
    dw.inner = d.P;
    dw.a = {d.P, 1, d.Co * d.P};
    dw.b = {1, d.P, d.C * d.P};
    dw.relu_b = relu_input;
    for (size_t k = 0; k < xs.size(); ++k)
      if (dws[k].defined() && dys[k].defined())
        dw.job[dw.count++] = {dys[k].data<scalar_t>(), xs[k].data<scalar_t>(),
                              dws[k].data<scalar_t>(), true};
    if (dw.count > 0 && d.N * d.Co * d.C * d.P > 0) {  // else dw += 0
      // First, on the side stream: dx runs beside it (runtime/side_stream.h).
      const SideWork side(xs[0].device());
      launch_weight_grads(dw, xs[0].device(), side.stream());
    }

    Batch<scalar_t> dx{};  // dx [C, P] (=|+=) wᵀ [C, Co] · dy [Co, P]
    dx.samples = d.N;
    dx.rows = d.C;
    dx.cols = d.P;
    dx.inner = d.Co;
    dx.a = {1, d.C, 0};
    dx.b = {d.P, 1, d.Co * d.P};
    dx.c_sample = d.C * d.P;
    for (size_t k = 0; k < xs.size(); ++k) {
      const bool accumulate = dx_modes[k] == GradMode::Accumulate;
      if (!dxs[k].defined() || (accumulate && !dys[k].defined())) continue;
      const scalar_t* dy = data_or_null<scalar_t>(dys[k]);
      dx.job[dx.count++] = {dy ? ws[k].data<scalar_t>() : nullptr, dy, dxs[k].data<scalar_t>(),
                            accumulate, relu_input ? xs[k].data<scalar_t>() : nullptr};
    }
    if (dx.count > 0 && xs[0].numel() > 0) launch_batched_gemm(dx, s);
  });
}

}  // namespace autonet::cuda
