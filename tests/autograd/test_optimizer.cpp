// Optimizers (torch semantics, checked against hand-worked numbers and a scalar re-derivation of
// torch's step), lr schedules, the ASGD averaged-weights swap, and bit-exact resume through a
// checkpoint for SGD-momentum, Adam and ASGD.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include "autograd/checkpoint.h"
#include "autograd/lr_schedule.h"
#include "autograd/optimizer.h"
#include "kernels/elementwise.h"

namespace autonet {
namespace {

namespace fs = std::filesystem;

Tensor f64(const std::vector<double>& v) {
  return Tensor::from_vector<double>(v, {static_cast<int64_t>(v.size())});
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  double rtol = 1e-13) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], rtol * (1 + std::abs(want[i]))) << "element " << i;
}

// ---- hand-worked steps ------------------------------------------------------------------------

TEST(Sgd, MomentumAndWeightDecayByHand) {
  Tensor w = f64({1.0}), g = f64({2.0});
  Sgd sgd(w, g, {.lr = 0.5, .momentum = 0.9, .weight_decay = 0.1});
  EXPECT_FALSE(sgd.has_momentum_buffer());
  sgd.step();
  // d = 2 + 0.1·1 = 2.1; buf = d (first step); w = 1 − 0.5·2.1 = −0.05
  expect_close(sgd.momentum_buffer().to_vector<double>(), {2.1});
  expect_close(w.to_vector<double>(), {-0.05});
  EXPECT_TRUE(sgd.has_momentum_buffer());
  sgd.step();
  // d = 2 + 0.1·(−0.05) = 1.995; buf = 0.9·2.1 + 1.995 = 3.885; w = −0.05 − 0.5·3.885 = −1.9925
  expect_close(sgd.momentum_buffer().to_vector<double>(), {3.885});
  expect_close(w.to_vector<double>(), {-1.9925});
  EXPECT_EQ(sgd.steps(), 2);
}

TEST(Sgd, PlainSgdHasNoState) {
  Tensor w = f64({1.0, -1.0}), g = f64({0.5, 0.25});
  Sgd sgd(w, g, {.lr = 2.0, .weight_decay = 0.5});
  EXPECT_TRUE(sgd.state_tensors().empty());
  EXPECT_FALSE(sgd.momentum_buffer().defined());
  sgd.step();
  // w −= 2·(g + 0.5·w)
  expect_close(w.to_vector<double>(), {1.0 - 2.0 * 1.0, -1.0 - 2.0 * (0.25 - 0.5)});
}

TEST(Adam, FirstStepIsLrTimesSignByHand) {
  // DARTS' α optimizer: lr 3e-4, betas (0.5, 0.999), L2 1e-3.
  Tensor w = f64({0.2, -0.1}), g = f64({-0.4, 0.0});
  Adam adam(w, g, {.lr = 3e-4, .beta1 = 0.5, .beta2 = 0.999, .weight_decay = 1e-3});
  adam.step();
  // Step 1: m̂ = g', v̂ = g'² → w −= lr·g'/(|g'| + eps), g' = g + 1e-3·w.
  const double g0 = -0.4 + 1e-3 * 0.2, g1 = 0.0 + 1e-3 * -0.1;
  expect_close(w.to_vector<double>(),
               {0.2 - 3e-4 * g0 / (std::abs(g0) + 1e-8), -0.1 - 3e-4 * g1 / (std::abs(g1) + 1e-8)});
  const auto state = adam.state_tensors();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].name, "exp_avg");
  expect_close(state[0].tensor.to_vector<double>(), {0.5 * g0, 0.5 * g1});
  expect_close(state[1].tensor.to_vector<double>(), {0.001 * g0 * g0, 0.001 * g1 * g1});
}

TEST(Asgd, AverageStartsAtTheSecondIterateAndEtaLagsOneStep) {
  // DARTS' RNN: t0 = 0, lambd = 0. Gradient 1 everywhere: each step moves w by −eta.
  Tensor w = f64({0.0}), g = f64({1.0});
  Asgd asgd(w, g, {.lr = 1.0, .lambd = 0.0, .t0 = 0.0});
  std::vector<double> iterates;
  const double lrs[] = {1.0, 2.0, 4.0, 8.0};
  for (double lr : lrs) {
    asgd.set_lr(lr);
    asgd.step();
    iterates.push_back(w.item());
  }
  // The first step takes eta = lr at that step (1); later steps use the lr of the step before:
  // steps move by 1, 1, 2, 4.
  expect_close(iterates, {-1.0, -2.0, -4.0, -8.0});
  // ax = w1 after step 1, overwritten by w2 at step 2, then the running mean of w2..w4.
  expect_close(asgd.averaged_weights().to_vector<double>(), {(-2.0 - 4.0 - 8.0) / 3});
  EXPECT_DOUBLE_EQ(asgd.eta(), 8.0);
  EXPECT_DOUBLE_EQ(asgd.mu(), 1.0 / 4);
}

// ---- multi-step against a scalar re-derivation of torch ----------------------------------------

// Gradients that change every step, so momentum and averages matter.
double grad_at(int step, size_t i) { return std::sin(0.7 * step + 1.3 * static_cast<double>(i)); }

std::vector<double> start_weights() { return {0.3, -1.2, 2.5, 0.0, -0.01}; }

// Runs the optimizer made by `make` for `steps` steps with lr_of(step) set before each step.
std::vector<double> run(const std::function<std::unique_ptr<Optimizer>(Tensor, Tensor)>& make,
                        int steps, const std::function<double(int)>& lr_of) {
  Tensor w = f64(start_weights()), g = f64(std::vector<double>(start_weights().size()));
  auto opt = make(w, g);
  for (int s = 0; s < steps; ++s) {
    std::vector<double> gv(start_weights().size());
    for (size_t i = 0; i < gv.size(); ++i) gv[i] = grad_at(s, i);
    g.copy_from(f64(gv));
    opt->set_lr(lr_of(s));
    opt->step();
  }
  return w.to_vector<double>();
}

double lr_schedule_for_test(int step) { return 0.05 * (1.0 + 0.5 * std::cos(step)); }

TEST(Sgd, MatchesTorchSemanticsOverManySteps) {
  for (bool nesterov : {false, true}) {
    SCOPED_TRACE(nesterov ? "nesterov" : "classic");
    const double mom = 0.9, damp = nesterov ? 0.0 : 0.25, wd = 3e-4;
    std::vector<double> w = start_weights(), buf(w.size());
    for (int s = 0; s < 12; ++s) {
      for (size_t i = 0; i < w.size(); ++i) {
        double d = grad_at(s, i) + wd * w[i];
        buf[i] = s == 0 ? d : mom * buf[i] + (1 - damp) * d;
        d = nesterov ? d + mom * buf[i] : buf[i];
        w[i] -= lr_schedule_for_test(s) * d;
      }
    }
    const SgdOptions o{.momentum = mom, .dampening = damp, .weight_decay = wd, .nesterov = nesterov};
    expect_close(run([&](Tensor w, Tensor g) { return std::make_unique<Sgd>(w, g, o); }, 12,
                     lr_schedule_for_test),
                 w);
  }
}

TEST(Adam, MatchesTorchSemanticsOverManySteps) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 1e-3;
  std::vector<double> w = start_weights(), m(w.size()), v(w.size());
  for (int s = 0; s < 12; ++s) {
    const int t = s + 1;
    for (size_t i = 0; i < w.size(); ++i) {
      const double d = grad_at(s, i) + wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * d;
      v[i] = b2 * v[i] + (1 - b2) * d * d;
      const double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
      w[i] -= lr_schedule_for_test(s) * mhat / (std::sqrt(vhat) + eps);
    }
  }
  const AdamOptions o{.beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd};
  expect_close(run([&](Tensor w, Tensor g) { return std::make_unique<Adam>(w, g, o); }, 12,
                   lr_schedule_for_test),
               w, 1e-12);
}

TEST(Asgd, MatchesTorchSemanticsOverManySteps) {
  // torch.optim.ASGD step, with decay and a finite t0 so eta and mu both vary.
  const double lambd = 0.3, alpha = 0.75, t0 = 4, wd = 1e-2;
  std::vector<double> w = start_weights(), ax(w.size());
  double eta = 0, mu = 1;
  for (int s = 0; s < 12; ++s) {
    const double lr = lr_schedule_for_test(s);
    if (s == 0) eta = lr;
    for (size_t i = 0; i < w.size(); ++i) {
      const double d = grad_at(s, i) + wd * w[i];
      w[i] *= 1 - lambd * eta;
      w[i] -= eta * d;
      ax[i] = mu == 1 ? w[i] : ax[i] + (w[i] - ax[i]) * mu;
    }
    const double t = s + 1;
    eta = lr / std::pow(1 + lambd * lr * t, alpha);
    mu = 1 / std::max(1.0, t - t0);
  }
  const AsgdOptions o{.lambd = lambd, .alpha = alpha, .t0 = t0, .weight_decay = wd};
  Tensor ax_out;
  expect_close(run(
                   [&](Tensor w, Tensor g) {
                     auto opt = std::make_unique<Asgd>(w, g, o);
                     ax_out = opt->averaged_weights();
                     return opt;
                   },
                   12, lr_schedule_for_test),
               w);
  expect_close(ax_out.to_vector<double>(), ax);
}

// ---- ASGD evaluation with the average ---------------------------------------------------------

TEST(Asgd, AveragedWeightsSwapInAndBackExactly) {
  Tensor w = Tensor::from_vector<float>({0.1f, 0.2f, 0.3f}, {3});
  Tensor g = Tensor::from_vector<float>({1.0f, -2.0f, 0.5f}, {3});
  Asgd asgd(w, g, {.lr = 0.1f, .lambd = 0.0, .t0 = 0.0});
  EXPECT_THROW(asgd.swap_in_averaged(), Error);  // nothing averaged yet
  for (int s = 0; s < 3; ++s) asgd.step();
  const std::vector<float> trained = w.to_vector<float>();
  const std::vector<float> average = asgd.averaged_weights().to_vector<float>();
  ASSERT_NE(trained, average);
  {
    AveragedWeights scope(asgd);
    EXPECT_TRUE(asgd.averaged_in());
    EXPECT_EQ(w.to_vector<float>(), average);
    EXPECT_THROW(asgd.step(), Error);
    EXPECT_THROW(asgd.swap_in_averaged(), Error);
  }
  EXPECT_FALSE(asgd.averaged_in());
  EXPECT_EQ(w.to_vector<float>(), trained);
  EXPECT_THROW(asgd.swap_back(), Error);
  asgd.step();  // training goes on from the trained weights
}

// ---- schedules -------------------------------------------------------------------------------

TEST(LrSchedule, CosineAnnealingMatchesDartsSearch) {
  const CosineAnnealingLr cosine(0.025, 50, 0.001);
  EXPECT_DOUBLE_EQ(cosine.lr_at(0), 0.025);
  EXPECT_NEAR(cosine.lr_at(25), 0.013, 1e-15);
  EXPECT_NEAR(cosine.lr_at(49), 0.0010237, 1e-7);
  EXPECT_NEAR(cosine.lr_at(50), 0.001, 1e-15);
  for (int e = 1; e < 50; ++e) EXPECT_LT(cosine.lr_at(e), cosine.lr_at(e - 1));
  EXPECT_NEAR(CosineAnnealingLr(1.0, 4).lr_at(1), (1 + std::sqrt(0.5)) / 2, 1e-15);

  Tensor w = Tensor::zeros({2}), g = Tensor::zeros({2});
  Sgd sgd(w, g, {.lr = 1.0});
  cosine.apply(sgd, 25);
  EXPECT_NEAR(sgd.lr(), 0.013, 1e-15);
  ConstantLr(20.0).apply(sgd, 7);
  EXPECT_EQ(sgd.lr(), 20.0);

  EXPECT_THROW(CosineAnnealingLr(0.1, 0), Error);
  EXPECT_THROW(CosineAnnealingLr(-0.1, 10), Error);
  EXPECT_THROW(cosine.lr_at(-1), Error);
  EXPECT_THROW(ConstantLr(-1.0), Error);
}

// torch.optim.lr_scheduler.StepLR(step_size, gamma) stepped once per epoch, as train_imagenet.py.
TEST(LrSchedule, StepDecaysByGammaEveryStepSizeEpochs) {
  const StepLr imagenet(0.1, 1, 0.97);
  EXPECT_DOUBLE_EQ(imagenet.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(imagenet.lr_at(1), 0.1 * 0.97);
  EXPECT_NEAR(imagenet.lr_at(249), 5.0838e-5, 1e-8);
  const StepLr every_third(1.0, 3, 0.5);
  EXPECT_EQ(every_third.lr_at(2), 1.0);
  EXPECT_EQ(every_third.lr_at(3), 0.5);
  EXPECT_EQ(every_third.lr_at(8), 0.25);
  EXPECT_EQ(every_third.lr_at(9), 0.125);
  EXPECT_THROW(StepLr(0.1, 0, 0.97), Error);
  EXPECT_THROW(StepLr(0.1, 1, 0), Error);
  EXPECT_THROW(StepLr(0.1, 1, 1.5), Error);
  EXPECT_THROW(imagenet.lr_at(-1), Error);
}

// ---- argument checks ------------------------------------------------------------------------

TEST(Optimizer, RejectsBadBuffersAndOptions) {
  Tensor w = Tensor::zeros({4}), g = Tensor::zeros({4});
  EXPECT_THROW(Sgd(w, Tensor::zeros({3}), {}), Error);
  EXPECT_THROW(Sgd(w, Tensor::zeros({4}, DType::f64), {}), Error);
  EXPECT_THROW(Sgd(Tensor::zeros({4}, DType::i32), Tensor::zeros({4}, DType::i32), {}), Error);
  EXPECT_THROW(Sgd(w, Tensor(), {}), Error);
  EXPECT_THROW(Sgd(Tensor::zeros({2, 4}).slice(1, 0, 2), Tensor::zeros({2, 2}), {}), Error);
  EXPECT_THROW(Sgd(w, g, {.lr = -1.0}), Error);
  EXPECT_THROW(Sgd(w, g, {.momentum = -0.5}), Error);
  EXPECT_THROW(Sgd(w, g, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), Error);
  EXPECT_THROW(Sgd(w, g, {.nesterov = true}), Error);
  EXPECT_THROW(Adam(w, g, {.beta1 = 1.0}), Error);
  EXPECT_THROW(Adam(w, g, {.eps = -1.0}), Error);
  EXPECT_THROW(Asgd(w, g, {.lambd = -1.0}), Error);

  Sgd sgd(w, g, {.lr = 0.1, .momentum = 0.9});
  EXPECT_THROW(sgd.set_lr(-0.1), Error);
  Adam adam(w, g, {});
  EXPECT_THROW(sgd.load_state_json(adam.state_json()), Error);  // wrong kind
  EXPECT_THROW(sgd.load_state_json({{"kind", "sgd"}, {"lr", 0.1}}), Error);  // no steps
  Asgd asgd(w, g, {});
  nlohmann::json no_eta = asgd.state_json();
  no_eta.erase("eta");
  EXPECT_THROW(asgd.load_state_json(no_eta), Error);
}

// ---- resume through a checkpoint -------------------------------------------------------------

// Least squares on a flat weight vector: loss = ½ Σ (a ⊙ w − b)², grad = a ⊙ (a ⊙ w − b),
// computed with the elementwise kernels, in f32 so that bit equality is a strong statement.
struct LeastSquares {
  Tensor a, b, residual;
  explicit LeastSquares(int64_t n, Device device) {
    a = Tensor::empty({n}, DType::f32);
    b = Tensor::empty({n}, DType::f32);
    fill_uniform(a, 0.5, 1.5, 11);
    fill_uniform(b, -1.0, 1.0, 12);
    a = a.to(device);
    b = b.to(device);
    residual = Tensor::empty({n}, DType::f32, device);
  }
  void gradient(const Tensor& w, Tensor& grad) {
    binary_forward(BinaryOp::mul, a, w, residual);
    binary_forward(BinaryOp::sub, residual, b, residual);
    binary_forward(BinaryOp::mul, a, residual, grad);
  }
};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(Tensor, Tensor)>;

// lr per step, changing so that restoring lr (and ASGD's lagging eta) matters.
double resume_lr(int64_t step) { return CosineAnnealingLr(0.05, 5, 0.005).lr_at(step / 2); }

void train(Optimizer& opt, LeastSquares& problem, Tensor& w, Tensor& g, int64_t from, int64_t to) {
  for (int64_t s = from; s < to; ++s) {
    problem.gradient(w, g);
    opt.set_lr(resume_lr(s));
    opt.step();
  }
}

struct Outcome {
  std::vector<float> weights;
  std::vector<std::vector<float>> state;
};

Outcome outcome(const Optimizer& opt) {
  Outcome out{opt.weights().to_vector<float>(), {}};
  for (const auto& nt : opt.state_tensors()) out.state.push_back(nt.tensor.to_vector<float>());
  return out;
}

bool bit_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

bool bit_equal(const Outcome& x, const Outcome& y) {
  if (!bit_equal(x.weights, y.weights) || x.state.size() != y.state.size()) return false;
  for (size_t i = 0; i < x.state.size(); ++i)
    if (!bit_equal(x.state[i], y.state[i])) return false;
  return true;
}

void expect_bit_equal(const Outcome& x, const Outcome& y) {
  EXPECT_TRUE(bit_equal(x.weights, y.weights)) << "weights differ";
  ASSERT_EQ(x.state.size(), y.state.size());
  for (size_t i = 0; i < x.state.size(); ++i)
    EXPECT_TRUE(bit_equal(x.state[i], y.state[i])) << "state tensor " << i << " differs";
}

// 10 steps straight vs 5 steps, checkpoint, reload into fresh objects, 5 more.
void check_resume(const MakeOptimizer& make, Device device, const fs::path& dir) {
  constexpr int64_t n = 37;
  LeastSquares problem(n, device);
  auto fresh_weights = [&] {
    Tensor w = Tensor::empty({n}, DType::f32);
    fill_uniform(w, -1.0, 1.0, 7);
    return w.to(device);
  };

  Tensor w = fresh_weights(), g = Tensor::zeros({n}, DType::f32, device);
  auto straight = make(w, g);
  train(*straight, problem, w, g, 0, 10);

  Tensor w1 = fresh_weights(), g1 = Tensor::zeros({n}, DType::f32, device);
  auto first = make(w1, g1);
  train(*first, problem, w1, g1, 0, 5);
  const fs::path path = dir / (std::string(first->kind()) + ".safetensors");
  std::vector<NamedTensor> tensors = {{"weights", w1}};
  for (auto& nt : with_prefix("optimizer.", first->state_tensors())) tensors.push_back(nt);
  save_checkpoint(path, tensors, {{"optimizer", first->state_json()}, {"step", 5}});
  first.reset();

  auto resume = [&](bool restore_scalars) {
    Tensor w2 = Tensor::zeros({n}, DType::f32, device), g2 = Tensor::zeros({n}, DType::f32, device);
    auto second = make(w2, g2);
    std::vector<NamedTensor> dests = {{"weights", w2}};
    for (auto& nt : with_prefix("optimizer.", second->state_tensors())) dests.push_back(nt);
    const nlohmann::json state = load_checkpoint(path, dests);
    if (restore_scalars) second->load_state_json(state["optimizer"]);
    const int64_t step = state["step"].get<int64_t>();
    EXPECT_EQ(step, 5);
    train(*second, problem, w2, g2, step, 10);
    return outcome(*second);
  };
  expect_bit_equal(resume(true), outcome(*straight));
  // Control: forgetting the scalars (step count, lr, eta/mu) changes the result.
  EXPECT_FALSE(bit_equal(resume(false), outcome(*straight)));
}

class ResumeTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("autonet_resume_" + std::to_string(::getpid()) + "_" +
                                        std::string(GetParam()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  MakeOptimizer maker() const {
    const std::string kind = GetParam();
    if (kind == "sgd")  // DARTS CNN weights
      return [](Tensor w, Tensor g) {
        return std::make_unique<Sgd>(w, g, SgdOptions{.momentum = 0.9, .weight_decay = 3e-4});
      };
    if (kind == "adam")  // DARTS α
      return [](Tensor w, Tensor g) {
        return std::make_unique<Adam>(w, g,
                                      AdamOptions{.beta1 = 0.5, .beta2 = 0.999, .weight_decay = 1e-3});
      };
    return [](Tensor w, Tensor g) {  // DARTS RNN final training after the switch
      return std::make_unique<Asgd>(w, g, AsgdOptions{.lambd = 0, .t0 = 0, .weight_decay = 8e-7});
    };
  }

  fs::path dir_;
};

TEST_P(ResumeTest, CheckpointResumeIsBitIdenticalOnCpu) {
  check_resume(maker(), Device::cpu(), dir_);
}

TEST_P(ResumeTest, CheckpointResumeIsBitIdenticalOnCuda) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  check_resume(maker(), Device::cuda(0), dir_);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, ResumeTest, ::testing::Values("sgd", "adam", "asgd"),
                         [](const auto& info) { return std::string(info.param); });

// CUDA twin of the fused step through the optimizer classes (skips without a GPU).
TEST(Optimizer, CudaStepsMatchCpu) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  const std::vector<MakeOptimizer> makers = {
      [](Tensor w, Tensor g) {
        return std::make_unique<Sgd>(w, g, SgdOptions{.momentum = 0.9, .weight_decay = 3e-4});
      },
      [](Tensor w, Tensor g) { return std::make_unique<Adam>(w, g, AdamOptions{.weight_decay = 1e-3}); },
      [](Tensor w, Tensor g) { return std::make_unique<Asgd>(w, g, AsgdOptions{.t0 = 2}); }};
  for (const auto& make : makers) {
    auto run_on = [&](Device device) {
      LeastSquares problem(1000, device);
      Tensor w = Tensor::zeros({1000}, DType::f32, device), g = Tensor::zeros({1000}, DType::f32, device);
      auto opt = make(w, g);
      train(*opt, problem, w, g, 0, 6);
      return outcome(*opt);
    };
    const Outcome cpu = run_on(Device::cpu()), gpu = run_on(Device::cuda(0));
    for (size_t i = 0; i < cpu.weights.size(); ++i)
      ASSERT_NEAR(gpu.weights[i], cpu.weights[i], 1e-5f * (1 + std::abs(cpu.weights[i])));
  }
}

}  // namespace
}  // namespace autonet
