// Embedding lookup and its gradient at the DARTS RNN's sizes: 10k-word vocabulary, 300 features,
// [35, B] token ids. The gradient's sort makes it more than a copy on the GPU.
#include "bench/bench_util.h"
#include "kernels/embedding.h"
#include "runtime/philox.h"

namespace autonet::bench {
namespace {

// Token ids with a skewed (Zipf-like) spread, so frequent words repeat as in real text.
Tensor random_ids(const Shape& shape, int64_t vocabulary, Device device) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) {
    const double u = philox_uniform(PhiloxKey{5, 0, 0}, i);
    ids[i] = static_cast<int64_t>(u * u * u * vocabulary) % vocabulary;
  }
  return Tensor::from_vector(ids, shape, device);
}

// Args: device, V, D, T, B.
void BM_EmbeddingForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t vocabulary = state.range(1), dim = state.range(2);
  Tensor weight = random_tensor({vocabulary, dim}, device);
  Tensor ids = random_ids({state.range(3), state.range(4)}, vocabulary, device);
  Tensor out = Tensor::empty({state.range(3), state.range(4), dim}, DType::f32, device);
  run_timed(state, device, [&] { embedding_forward(weight, ids, out); },
            2.0 * out.nbytes() + ids.nbytes());
}

void BM_EmbeddingBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t vocabulary = state.range(1), dim = state.range(2);
  Tensor dweight = Tensor::zeros({vocabulary, dim}, DType::f32, device);
  Tensor ids = random_ids({state.range(3), state.range(4)}, vocabulary, device);
  Tensor dout = random_tensor({state.range(3), state.range(4), dim}, device);
  // dout read once, the touched dweight rows read and written (bounded by dout's size).
  run_timed(state, device, [&] { embedding_backward(ids, dout, dweight); },
            3.0 * dout.nbytes() + ids.nbytes(), static_cast<double>(dout.numel()));
}

void rnn_sizes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"V", "D", "T", "B"}, {{10000, 300, 35, 64}, {10000, 300, 35, 256}});
}

BENCHMARK(BM_EmbeddingForward)->Apply(rnn_sizes);
BENCHMARK(BM_EmbeddingBackward)->Apply(rnn_sizes);

}  // namespace
}  // namespace autonet::bench
