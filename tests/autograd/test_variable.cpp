// The tape itself: recording, the reverse sweep, accumulation, no_grad, graph lifetime. Uses only
// elementwise ops, so it runs without the other kernel families.
#include <gtest/gtest.h>
#include <pthread.h>

#include "autograd/functions.h"
#include "gradcheck.h"

namespace autonet {
namespace {
using test::expect_gradients_match;
using test::leaf;

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

TEST(Variable, CompositeElementwiseMatchesFiniteDifferences) {
  Variable a = leaf({3, 5}, 1), b = leaf({3, 5}, 2), c = leaf({3, 5}, 3, 0.5, 2.0);
  auto f = [&] {
    Variable h = tanh(add(a, scale(b, 0.7)));             // a + 0.7 b
    Variable g = mul(h, sigmoid(sub(a, c)));               // fan-out of a
    return add(mul(g, exp(scale(a, 0.3))), log(c));
  };
  expect_gradients_match(f, {a, b, c});
}

TEST(Variable, ReluGradientFromItsOutput) {
  // Entries away from the kink: |x| >= 0.2.
  Tensor t = Tensor::from_vector<double>({-1.0, -0.2, 0.3, 2.0, -0.5, 0.9}, {2, 3});
  Variable x(t, true);
  expect_gradients_match([&] { return mul(relu(x), x); }, {x});
  x.clear_grad();
  backward(mul(relu(x), x), Tensor::full({2, 3}, 1.0, DType::f64));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0.6, 4.0, 0, 1.8}));  // d(x·relu x) = 2x⁺
}

TEST(Variable, FanOutAccumulates) {
  Variable x(Tensor::from_vector<double>({1.0, -2.0, 3.0}, {3}), true);
  Variable y = add(mul(x, x), x);  // x used three times: d/dx = 2x + 1
  backward(y, Tensor::full({3}, 1.0, DType::f64));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{3.0, -3.0, 7.0}));
}

TEST(Variable, LeafGradientsAccumulateAcrossBackwardCalls) {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  const Tensor ones = Tensor::full({2}, 1.0, DType::f64);
  backward(scale(x, 3.0), ones);
  backward(scale(x, 3.0), ones);
  EXPECT_EQ(values(x.grad()), (std::vector<double>{6.0, 6.0}));
  x.clear_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Variable, InputsWithoutRequiresGradGetNothing) {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  Variable k(Tensor::from_vector<double>({5.0, 7.0}, {2}));  // data: no gradient
  backward(mul(x, k), Tensor::full({2}, 1.0, DType::f64));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{5.0, 7.0}));
  EXPECT_FALSE(k.grad().defined());
  EXPECT_FALSE(mul(k, k).requires_grad());
  EXPECT_EQ(mul(k, k).producer(), nullptr);
}

TEST(Variable, NoGradGuardRecordsNothing) {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Variable y = relu(scale(x, 2.0));
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_EQ(values(y.value()), (std::vector<double>{2.0, 4.0}));
    {
      NoGradGuard nested;
    }
    EXPECT_FALSE(grad_enabled());  // the inner guard restores "off", not "on"
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(scale(x, 2.0).requires_grad());
}

TEST(Variable, IntermediateGradientsAreDroppedUnlessRetained) {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  Variable h = scale(x, 2.0), kept = scale(x, 3.0);
  kept.retain_grad();
  backward(add(h, kept), Tensor::full({2}, 1.0, DType::f64));
  EXPECT_FALSE(h.grad().defined());
  EXPECT_EQ(values(kept.grad()), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{5.0, 5.0}));
}

TEST(Variable, GraphIsFreedAfterBackwardUnlessRetained) {
  Variable x(Tensor::from_vector<double>({1.0}, {1}), true);
  Variable y = tanh(x);
  backward(y, Tensor(), /*retain_graph=*/true);
  backward(y);  // second sweep allowed, then the graph is freed
  EXPECT_NEAR(x.grad().item(), 2 * (1 - std::pow(std::tanh(1.0), 2)), 1e-15);
  EXPECT_THROW(backward(y), Error);
}

TEST(Variable, BackwardChecksItsSeed) {
  Variable x(Tensor::from_vector<double>({1.0, 2.0}, {2}), true);
  EXPECT_THROW(backward(scale(x, 2.0)), Error);  // non-scalar without a seed
  EXPECT_THROW(backward(scale(x, 2.0), Tensor::full({3}, 1.0, DType::f64)), Error);
  EXPECT_THROW(backward(Variable(Tensor::full({1}, 1.0, DType::f64))), Error);  // no grad path
}

// Runs `body` on a thread with a 1 MiB stack, so recursion per recorded op would overflow it.
void run_on_small_stack(void (*body)()) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attr, [](void* fn) -> void* {
    reinterpret_cast<void (*)()>(fn)();
    return nullptr;
  }, reinterpret_cast<void*>(body)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

double g_deep_chain_grad = 0;

TEST(Variable, DeepChainNeedsNoRecursion) {
  // 50k recorded ops: both the sweep and the graph's destruction must be iterative.
  run_on_small_stack([] {
    Variable x(Tensor::from_vector<double>({1.0}, {1}), true);
    Variable y = x;
    for (int i = 0; i < 50000; ++i) y = scale(y, 1.0);
    Variable kept = y;  // the graph outlives the sweep, then dies in one release
    backward(y);
    g_deep_chain_grad = x.grad().item();
    y = Variable();
    kept = Variable();
  });
  EXPECT_EQ(g_deep_chain_grad, 1.0);
}

TEST(Variable, ViewSharesStorageAndRoutesGradient) {
  Variable x = leaf({2, 6}, 7);
  Variable v = view(x, {3, -1});
  EXPECT_EQ(v.shape(), (Shape{3, 4}));
  EXPECT_EQ(v.value().raw_data(), x.value().raw_data());
  expect_gradients_match([&] { return mul(view(x, {4, 3}), view(tanh(x), {4, 3})); }, {x});
}

TEST(Variable, SelectRoutesIntoItsRow) {
  Variable x = leaf({4, 3}, 8);
  EXPECT_EQ(select(x, 2).value().to_vector<double>(),
            x.value().slice(0, 2, 3).contiguous().to_vector<double>());
  expect_gradients_match([&] { return add(mul(select(x, 1), select(x, 3)), tanh(select(x, 1))); },
                         {x});
  EXPECT_THROW(select(x, 4), Error);
}

TEST(Variable, ZerosHaveNoGradientPath) {
  Variable x = leaf({2, 2}, 9);
  Variable z = zeros_like(x);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_EQ(values(z.value()), std::vector<double>(4, 0.0));
  Variable y = add(x, z);
  backward(y, Tensor::full({2, 2}, 1.0, DType::f64));
  EXPECT_EQ(values(x.grad()), std::vector<double>(4, 1.0));
}

}  // namespace
}  // namespace autonet
