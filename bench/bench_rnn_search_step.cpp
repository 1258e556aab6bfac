// One whole recurrent DARTS search step end to end (the α step of darts/rnn/architect.h, then
// darts::rnn_weight_step), first and second order: the reference's search model (nhid 300,
// 10,000 words, batch 256, BPTT 35) and a small one whose CPU rows run in seconds (nhid 64,
// 2,000 words, batch 32, BPTT 20). Reports ms per step, tokens/s (train tokens per second; a step
// also reads a validation window of the same size), the device's peak memory during the timed
// steps and the weights' parameter count (`params`, which the PyTorch peer
// bench/peers/rnn_search_step.py must match).
//
//   build/bench/bench_rnn_search_step --benchmark_filter='dev:0'   # CPU: small rows only
// Arguments: device (0 = CPU, 1 = CUDA), order (1 or 2), config (0 = reference, 1 = small),
// graph (1: the step replayed from CUDA graphs, darts/rnn/captured_step.h; CUDA only).
// BM_RnnSearchStepOneStream (CUDA, first order): the same step with every kernel on the compute
// stream, where BM_RnnSearchStep runs the cells' weight gradients on a side stream beside the
// rest of backward (runtime/side_stream.h).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "autograd/optimizer.h"
#include "bench/bench_util.h"
#include "darts/rnn/architect.h"
#include "darts/rnn/captured_step.h"
#include "darts/rnn/model.h"
#include "darts/rnn/trainer.h"
#include "runtime/side_stream.h"

namespace autonet::bench {
namespace {

struct RnnStepShape {
  const char* name;
  int64_t vocabulary, nhid, batch, bptt;
};
constexpr RnnStepShape kShapes[] = {
    {"reference", 10000, 300, 256, 35},
    {"small", 2000, 64, 32, 20},
};

// A [T, B] window of token ids and its [T·B] targets (the next tokens), deterministic.
darts::RnnSegment window(const RnnStepShape& s, uint64_t seed, Device device) {
  std::vector<int64_t> ids(static_cast<size_t>((s.bptt + 1) * s.batch));
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<int64_t>((i * 2654435761ull + seed * 40503ull) % s.vocabulary);
  const int64_t n = s.bptt * s.batch;
  darts::RnnSegment seg;
  seg.input = Tensor::from_vector(std::vector<int64_t>(ids.begin(), ids.begin() + n),
                                  {s.bptt, s.batch}).to(device);
  seg.target = Tensor::from_vector(std::vector<int64_t>(ids.begin() + s.batch, ids.end()), {n})
                   .to(device);
  return seg;
}

void BM_RnnSearchStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const bool unrolled = state.range(1) == 2;
  const RnnStepShape& shape = kShapes[state.range(2)];
  const bool graph = state.range(3) == 1;
  const std::string title = std::string(shape.name) +
                            (unrolled ? " second order" : " first order") +
                            (graph ? ", CUDA graphs" : "");
  state.SetLabel(title);

  ParameterStore weights(3), alphas(4);
  darts::RnnConfig config;  // train_search.py's dropouts
  config.vocabulary = shape.vocabulary;
  config.emsize = config.nhid = shape.nhid;
  darts::RnnModel model(config, weights, alphas);
  weights.to(device);
  alphas.to(device);
  model.train();
  SgdOptions sgd_options;
  sgd_options.lr = 20;
  sgd_options.weight_decay = 5e-7;
  Sgd sgd(weights.weights(), weights.grads(), sgd_options);
  darts::RnnArchitectConfig arch;
  arch.unrolled = unrolled;
  darts::RnnArchitect architect(model, alphas, arch);

  darts::RnnSegment train = window(shape, 1, device), valid = window(shape, 2, device);
  train.hidden = valid.hidden = model.initial_hidden(shape.batch);
  std::unique_ptr<darts::CapturedRnnStep> captured;
  if (graph)
    captured =
        std::make_unique<darts::CapturedRnnStep>(model, &alphas, &architect, 0.0, 1e-3, 0.25);
  auto step = [&] {
    if (captured) {
      const darts::CapturedRnnStep::Result r = captured->step(sgd, train, &valid);
      valid.hidden = r.arch.hidden_valid;
      train.hidden = r.weight.hidden;
      return;
    }
    const darts::RnnArchStep a = architect.step(sgd, train, valid);
    const darts::RnnWeightStep w =
        darts::rnn_weight_step(model, &alphas, sgd, train, 0.0, 1e-3, 0.25);
    valid.hidden = a.hidden_valid;
    train.hidden = w.hidden;
  };
  // With graphs the warm-up is the eager first step and the capture.
  run_steps(state, title, device, step, "tokens/s", static_cast<double>(shape.bptt * shape.batch),
            graph ? 2 : 1, [&] { return captured ? captured->graph_pool_bytes() : size_t{0}; });
  state.counters["params"] = static_cast<double>(model.parameter_count());  // the peers check it
}

void BM_RnnSearchStepOneStream(benchmark::State& state) {
  SideStreamsSwitch one_stream(false);
  BM_RnnSearchStep(state);
}

// CPU: the small config only (the reference one takes minutes per step on 2 cores).
BENCHMARK(BM_RnnSearchStep)
    ->ArgNames({"dev", "order", "config", "graph"})
    ->Args({0, 1, 1, 0})
    ->Args({0, 2, 1, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_RnnSearchStep)
    ->ArgNames({"dev", "order", "config", "graph"})
    ->Args({1, 1, 0, 0})
    ->Args({1, 1, 0, 1})
    ->Args({1, 2, 0, 0})
    ->Args({1, 2, 0, 1})
    ->Args({1, 1, 1, 0})
    ->Args({1, 1, 1, 1})
    ->Args({1, 2, 1, 0})
    ->Args({1, 2, 1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);
BENCHMARK(BM_RnnSearchStepOneStream)
    ->ArgNames({"dev", "order", "config", "graph"})
    ->ArgsProduct({{1}, {1}, {0, 1}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

}  // namespace
}  // namespace autonet::bench

int main(int argc, char** argv) { return autonet::bench::step_benchmark_main(argc, argv); }
