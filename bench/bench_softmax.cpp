// Softmax and the losses at DARTS sizes: the CIFAR classifier (64 × 10), the α rows (14 × 8) and
// the PTB decoder's log-softmax over a 10k vocabulary (T·B × 10000).
#include "bench/bench_util.h"
#include "kernels/softmax.h"

namespace autonet::bench {
namespace {

Tensor random_targets(int64_t n, int64_t classes, Device device) {
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = (i * 7919) % classes;
  return Tensor::from_vector(t, {n}, device);
}

// Args: device, rows, cols. Bytes: x read twice (max, sum) and once more to write y.
void BM_LogSoftmaxForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 2);
  Tensor x = random_tensor(shape, device), y = Tensor::empty(shape, DType::f32, device);
  run_timed(state, device, [&] { softmax_forward(x, y, /*log=*/true); }, 2.0 * x.nbytes(),
            4.0 * x.numel());
}

void BM_LogSoftmaxBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 2);
  Tensor y = random_tensor(shape, device), dy = random_tensor(shape, device, 2);
  Tensor dx = Tensor::empty(shape, DType::f32, device);
  run_timed(state, device, [&] { softmax_backward(y, dy, dx, /*log=*/true); }, 3.0 * y.nbytes(),
            4.0 * y.numel());
}

void BM_CrossEntropyForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t n = state.range(1), classes = state.range(2);
  Tensor logits = random_tensor({n, classes}, device), targets = random_targets(n, classes, device);
  Tensor loss = Tensor::empty({1}, DType::f32, device);
  Tensor log_probs = Tensor::empty({n, classes}, DType::f32, device);
  run_timed(state, device,
            [&] { cross_entropy_forward(logits, targets, loss, log_probs, 0.1); },
            2.0 * logits.nbytes() + targets.nbytes(), 5.0 * logits.numel());
}

void BM_CrossEntropyBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t n = state.range(1), classes = state.range(2);
  Tensor log_probs = random_tensor({n, classes}, device), targets = random_targets(n, classes, device);
  Tensor dloss = Tensor::full({1}, 1.0, DType::f32, device);
  Tensor dlogits = Tensor::empty({n, classes}, DType::f32, device);
  run_timed(state, device,
            [&] { cross_entropy_backward(log_probs, targets, dloss, dlogits, 0.1); },
            2.0 * log_probs.nbytes() + targets.nbytes(), 3.0 * log_probs.numel());
}

void row_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"rows", "cols"}, {{64, 10}, {14, 8}, {35 * 64, 10000}});
  b->Args({1, 35 * 256, 10000});  // the RNN search batch: GPU only (a 358 MB tensor)
}

BENCHMARK(BM_LogSoftmaxForward)->Apply(row_shapes);
BENCHMARK(BM_LogSoftmaxBackward)->Apply(row_shapes);
BENCHMARK(BM_CrossEntropyForward)->Apply(row_shapes);
BENCHMARK(BM_CrossEntropyBackward)->Apply(row_shapes);

}  // namespace
}  // namespace autonet::bench
