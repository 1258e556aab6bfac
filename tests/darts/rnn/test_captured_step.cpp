// The graph-replayed recurrent step (darts/rnn/captured_step.h), search and training, against the
// eager one: the same kernels in the same order and the same dropout masks, so weights, α and
// every value must be bit-identical. What the graphs need of the model's dropout draws (anchored
// keys) is checked on the CPU as well.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "autograd/optimizer.h"
#include "darts/genotype/genotype.h"
#include "darts/rnn/architect.h"
#include "darts/rnn/captured_step.h"
#include "darts/rnn/trainer.h"
#include "runtime/device.h"
#include "runtime/philox.h"
#include "runtime/side_stream.h"

namespace autonet::darts {
namespace {

constexpr int64_t kBatch = 4, kHidden = 6, kWords = 11;

// Tokens from `seed` for a segment of `steps` time steps, on `device`; the hidden state is the
// caller's.
RnnSegment segment(int64_t steps, uint64_t seed, Device device) {
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < 2 * steps * kBatch; ++i)
    tokens.push_back(static_cast<int64_t>(philox_bits(PhiloxKey{seed, 9, 0}, i) % kWords));
  const auto half = tokens.begin() + steps * kBatch;
  RnnSegment s;
  s.input = Tensor::from_vector(std::vector<int64_t>(tokens.begin(), half), {steps, kBatch});
  s.target = Tensor::from_vector(std::vector<int64_t>(half, tokens.end()), {steps * kBatch});
  s.input = s.input.to(device);
  s.target = s.target.to(device);
  return s;
}

// A tiny search model with every dropout on, its SGD and architect, on one device.
struct Searcher {
  ParameterStore weights{41}, alphas{42};
  RnnModel model;
  bool placed;
  Sgd sgd;
  RnnArchitect architect;

  static RnnConfig config() {
    RnnConfig c;
    c.vocabulary = kWords;
    c.emsize = c.nhid = kHidden;
    c.dropout = c.dropouth = c.dropoutx = c.dropouti = 0.2;
    c.dropoute = 0.1;
    c.seed = 7;
    return c;
  }
  static RnnArchitectConfig arch(bool unrolled) {
    RnnArchitectConfig a;
    a.unrolled = unrolled;
    return a;
  }
  bool place(Device device) {
    weights.to(device);
    alphas.to(device);
    return true;
  }
  Searcher(Device device, bool unrolled)
      : model(config(), weights, alphas),
        placed(place(device)),
        sgd(weights.weights(), weights.grads(), SgdOptions{.lr = 2.0, .weight_decay = 1e-3}),
        architect(model, alphas, arch(unrolled)) {
    model.train();
  }
};

std::vector<double> host(const Tensor& t) {
  return t.to(Device::cpu()).to(DType::f64).to_vector<double>();
}

// A derived cell with its optimizer (training), on one device.
struct Trainer {
  ParameterStore weights{43};
  RnnModel model;
  bool placed;
  Sgd sgd;

  bool place(Device device) {
    weights.to(device);
    return true;
  }
  explicit Trainer(Device device)
      : model(Searcher::config(), weights, published_rnn_genotype("DARTS_V2")),
        placed(place(device)),
        sgd(weights.weights(), weights.grads(), SgdOptions{.lr = 2.0, .weight_decay = 1e-3}) {
    model.train();
  }
};

TEST(CapturedRnnStep, RefusesCpuModelsAndHalfASearch) {
  Searcher s(Device::cpu(), false);
  EXPECT_THROW(CapturedRnnStep(s.model, &s.alphas, &s.architect, 0.0, 1e-3, 0.25), Error);
  Trainer t(Device::cpu());
  EXPECT_THROW(CapturedRnnStep(t.model, nullptr, nullptr, 0.0, 1e-3, 0.25), Error);
}

// What a replay relies on, on the CPU: passes run with the generators anchored at their offsets
// (each draw's offset read from the bases) draw exactly the eager masks — the α pass of either
// order (second order replays the train masks by resetting the offsets) and the weight pass —
// and leave the generators where the eager passes leave them.
TEST(CapturedRnnStep, AnchoredPassesDrawTheEagerMasks) {
  const Device cpu = Device::cpu();
  for (bool unrolled : {false, true}) {
    SCOPED_TRACE(unrolled ? "second order" : "first order");
    Searcher eager(cpu, unrolled), anchored(cpu, unrolled);
    RnnSegment train = segment(5, 1, cpu), valid = segment(5, 2, cpu);
    train.hidden = valid.hidden = eager.model.initial_hidden(kBatch);
    for (Searcher* s : {&eager, &anchored}) s->model.set_rng_offsets({3, 5, 7, 11, 13});

    const RnnArchStep a = eager.architect.compute_gradient(eager.sgd, train, valid);
    const RnnWeightPass w = rnn_weight_pass(eager.model, &eager.alphas, train, 0.0, 1e-3);

    const auto start = anchored.model.rng_offsets();
    Tensor bases = Tensor::from_vector(std::vector<int64_t>(start.begin(), start.end()),
                                       {kRnnDropouts});
    anchored.model.anchor_rng(reinterpret_cast<const uint64_t*>(bases.data<int64_t>()));
    const RnnArchStep b = anchored.architect.compute_gradient(anchored.sgd, train, valid);
    const auto after_alpha = anchored.model.rng_offsets();
    anchored.model.unanchor_rng();
    bases.copy_from(Tensor::from_vector(
        std::vector<int64_t>(after_alpha.begin(), after_alpha.end()), {kRnnDropouts}));
    anchored.model.anchor_rng(reinterpret_cast<const uint64_t*>(bases.data<int64_t>()));
    const RnnWeightPass v = rnn_weight_pass(anchored.model, &anchored.alphas, train, 0.0, 1e-3);
    anchored.model.unanchor_rng();

    EXPECT_EQ(host(a.valid_loss), host(b.valid_loss));
    EXPECT_EQ(host(a.hidden_valid), host(b.hidden_valid));
    EXPECT_EQ(host(eager.alphas.grads()), host(anchored.alphas.grads()));
    EXPECT_EQ(host(w.nll), host(v.nll));
    EXPECT_EQ(host(w.hidden), host(v.hidden));
    EXPECT_EQ(host(eager.weights.grads()), host(anchored.weights.grads()));
    EXPECT_EQ(eager.model.rng_offsets(), anchored.model.rng_offsets());
  }
  // A derived cell's weight pass (training), anchored at offsets away from 0.
  Trainer eager(cpu), anchored(cpu);
  RnnSegment train = segment(7, 3, cpu);
  train.hidden = eager.model.initial_hidden(kBatch);
  for (Trainer* t : {&eager, &anchored}) t->model.set_rng_offsets({17, 19, 23, 29, 31});
  const RnnWeightPass w = rnn_weight_pass(eager.model, nullptr, train, 2.0, 1e-3);
  const auto start = anchored.model.rng_offsets();
  Tensor bases = Tensor::from_vector(std::vector<int64_t>(start.begin(), start.end()),
                                     {kRnnDropouts});
  anchored.model.anchor_rng(reinterpret_cast<const uint64_t*>(bases.data<int64_t>()));
  const RnnWeightPass v = rnn_weight_pass(anchored.model, nullptr, train, 2.0, 1e-3);
  anchored.model.unanchor_rng();
  EXPECT_EQ(host(w.nll), host(v.nll));
  EXPECT_EQ(host(eager.weights.grads()), host(anchored.weights.grads()));
  EXPECT_EQ(eager.model.rng_offsets(), anchored.model.rng_offsets());
}

// Eager steps and replayed ones on two copies of the search: bit-identical after every step. Two
// sequence lengths (as the search's int(bptt) and int(bptt / 2)) with the lr scaled by the
// length, as the search task does: each length's first step runs eagerly, its second captures.
// `one_stream`: the eager steps run without side streams (runtime/side_stream.h), the reference
// for the cells' weight gradients on the side stream.
void expect_replays_match_eager_steps(bool unrolled, bool one_stream = false) {
  const Device gpu = Device::cuda(0);
  Searcher eager(gpu, unrolled), graphed(gpu, unrolled);
  CapturedRnnStep captured(graphed.model, &graphed.alphas, &graphed.architect, 0.0, 1e-3, 0.25);
  Tensor hidden_e = eager.model.initial_hidden(kBatch), hidden_g = hidden_e.clone();
  Tensor valid_e = hidden_e.clone(), valid_g = hidden_e.clone();
  const std::vector<int64_t> lengths = {6, 6, 3, 6, 3, 3, 6, 6, 3};
  for (size_t step = 0; step < lengths.size(); ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int64_t t = lengths[step];
    for (Searcher* s : {&eager, &graphed}) s->sgd.set_lr(2.0 * static_cast<double>(t) / 6);
    RnnSegment train = segment(t, 10 + step, gpu), valid = segment(6, 20 + step, gpu);
    RnnSegment train_g = train, valid_g_segment = valid;
    train.hidden = hidden_e;
    valid.hidden = valid_e;
    train_g.hidden = hidden_g;
    valid_g_segment.hidden = valid_g;
    std::optional<SideStreamsSwitch> streams;
    if (one_stream) streams.emplace(false);
    const RnnArchStep a = eager.architect.step(eager.sgd, train, valid);
    const RnnWeightStep w =
        rnn_weight_step(eager.model, &eager.alphas, eager.sgd, train, 0.0, 1e-3, 0.25);
    streams.reset();
    const CapturedRnnStep::Result r = captured.step(graphed.sgd, train_g, &valid_g_segment);
    EXPECT_EQ(host(a.valid_loss), host(r.arch.valid_loss));
    EXPECT_EQ(host(w.nll), host(r.weight.nll));
    EXPECT_EQ(host(w.grad_norm), host(r.weight.grad_norm));
    EXPECT_EQ(host(eager.weights.weights()), host(graphed.weights.weights()));
    EXPECT_EQ(host(eager.alphas.weights()), host(graphed.alphas.weights()));
    EXPECT_EQ(eager.model.rng_offsets(), graphed.model.rng_offsets());
    hidden_e = w.hidden, hidden_g = r.weight.hidden;
    valid_e = a.hidden_valid, valid_g = r.arch.hidden_valid;
    EXPECT_EQ(host(hidden_e), host(hidden_g));
  }
  EXPECT_EQ(captured.captured_lengths(), 2u);
}

TEST(CapturedRnnStep, CudaSearchReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(false);
}

// The cells' weight gradients beside the rest on a second stream, eager (each length's first
// step) and replayed, against every kernel on one stream: the same values bit for bit.
TEST(CapturedRnnStep, CudaSideStreamStepsAreBitIdenticalToOneStreamSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "side streams need a GPU: " << why;
  expect_replays_match_eager_steps(false, true);
  expect_replays_match_eager_steps(true, true);
}

TEST(CapturedRnnStep, CudaSecondOrderSearchReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  expect_replays_match_eager_steps(true);
}

// Training a derived cell: lengths as train.py draws them (around bptt), the lr scaled by each,
// AR and TAR on, and the switch to averaged SGD halfway (the optimizer step is eager: the graphs
// do not change).
TEST(CapturedRnnStep, CudaTrainingReplayIsBitIdenticalToEagerSteps) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA graphs need a GPU: " << why;
  const Device gpu = Device::cuda(0);
  Trainer eager(gpu), graphed(gpu);
  CapturedRnnStep captured(graphed.model, nullptr, nullptr, 2.0, 1e-3, 0.25);
  AsgdOptions asgd;
  asgd.lr = 2.0;
  Asgd eager_asgd(eager.weights.weights(), eager.weights.grads(), asgd);
  Asgd graphed_asgd(graphed.weights.weights(), graphed.weights.grads(), asgd);
  Tensor hidden_e = eager.model.initial_hidden(kBatch), hidden_g = hidden_e.clone();
  const std::vector<int64_t> lengths = {7, 7, 5, 7, 9, 5, 9, 7, 5, 9};
  for (size_t step = 0; step < lengths.size(); ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int64_t t = lengths[step];
    Optimizer& opt_e = step < 5 ? static_cast<Optimizer&>(eager.sgd) : eager_asgd;
    Optimizer& opt_g = step < 5 ? static_cast<Optimizer&>(graphed.sgd) : graphed_asgd;
    opt_e.set_lr(2.0 * static_cast<double>(t) / 7);
    opt_g.set_lr(2.0 * static_cast<double>(t) / 7);
    RnnSegment train = segment(t, 30 + step, gpu), train_g = train;
    train.hidden = hidden_e;
    train_g.hidden = hidden_g;
    const RnnWeightStep w = rnn_weight_step(eager.model, nullptr, opt_e, train, 2.0, 1e-3, 0.25);
    const RnnWeightStep r = captured.step(opt_g, train_g, nullptr).weight;
    EXPECT_EQ(host(w.nll), host(r.nll));
    EXPECT_EQ(host(w.grad_norm), host(r.grad_norm));
    EXPECT_EQ(host(eager.weights.weights()), host(graphed.weights.weights()));
    EXPECT_EQ(eager.model.rng_offsets(), graphed.model.rng_offsets());
    hidden_e = w.hidden, hidden_g = r.hidden;
    EXPECT_EQ(host(hidden_e), host(hidden_g));
  }
  EXPECT_EQ(captured.captured_lengths(), 3u);
}

}  // namespace
}  // namespace autonet::darts
