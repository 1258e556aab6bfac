// GEMM and linear at DARTS shapes: compute-bound when large, launch/latency-bound when small, so
// both FLOP/s and bytes are reported.
#include "bench/bench_util.h"
#include "kernels/gemm.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), m, k, n: C [m, n] = A [m, k] · B [k, n].
void BM_Gemm(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t m = state.range(1), k = state.range(2), n = state.range(3);
  Tensor a = random_tensor({m, k}, device, 1), b = random_tensor({k, n}, device, 2);
  Tensor c = Tensor::empty({m, n}, DType::f32, device);
  run_timed(state, device, [&] { gemm(a, b, c); }, 4.0 * (m * k + k * n + m * n),
            2.0 * m * k * n);
}

// Args: device, batch, in, out.
void BM_LinearForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t batch = state.range(1), in = state.range(2), out = state.range(3);
  Tensor x = random_tensor({batch, in}, device, 1), w = random_tensor({out, in}, device, 2);
  Tensor b = random_tensor({out}, device, 3), y = Tensor::empty({batch, out}, DType::f32, device);
  run_timed(state, device, [&] { linear_forward(x, w, b, y); },
            4.0 * (batch * in + out * in + out + batch * out), 2.0 * batch * in * out);
}

void BM_LinearBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t batch = state.range(1), in = state.range(2), out = state.range(3);
  Tensor x = random_tensor({batch, in}, device, 1), w = random_tensor({out, in}, device, 2);
  Tensor dy = random_tensor({batch, out}, device, 3);
  Tensor dx = Tensor::empty({batch, in}, DType::f32, device);
  Tensor dw = Tensor::zeros({out, in}, DType::f32, device), db = Tensor::zeros({out}, DType::f32, device);
  // Reads x, w, dy; writes dx; reads and writes dw, db.
  run_timed(state, device, [&] { linear_backward(x, w, dy, dx, dw, db); },
            4.0 * (2 * batch * in + 3 * out * in + batch * out + 2 * out),
            4.0 * batch * in * out + batch * out);
}

void gemm_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"m", "k", "n"},
              {{16, 16, 64 * 32 * 32},  // pointwise conv 16 → 16 over a DARTS batch
               {48, 27, 64 * 32 * 32},  // the stem's im2col GEMM (3×3, 3 → 48)
               {64, 256, 10},           // the classifier
               {512, 512, 512}});       // a square reference point
}

void linear_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "in", "out"}, {{64, 256, 10}});  // DARTS search classifier
}

BENCHMARK(BM_Gemm)->Apply(gemm_shapes);
BENCHMARK(BM_LinearForward)->Apply(linear_shapes);
BENCHMARK(BM_LinearBackward)->Apply(linear_shapes);

}  // namespace
}  // namespace autonet::bench
