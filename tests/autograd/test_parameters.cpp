// ParameterStore: views into one flat weight buffer and one flat gradient buffer, names, buffers.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/parameters.h"
#include "kernels/elementwise.h"

namespace autonet {
namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

TEST(ParameterStore, ParametersAreViewsIntoTheFlatBuffers) {
  ParameterStore store(1, DType::f64);
  Variable w = store.add_parameter("layer.weight", {2, 3}, Init::constant(1.5));
  Variable b = store.add_parameter("layer.bias", {3}, Init::zeros());
  EXPECT_EQ(store.num_parameters(), 9);
  EXPECT_EQ(store.num_parameter_tensors(), 2);
  EXPECT_EQ(values(w.value()), std::vector<double>(6, 1.5));

  // Writing the flat buffer changes the parameter, and the other way round.
  const int64_t b_offset = store.entries()[1].offset;
  EXPECT_EQ(b_offset % ParameterStore::kAlignment, 0);
  Tensor flat = store.weights();
  flat.data<double>()[1] = -4.0;
  EXPECT_EQ(w.value().data<double>()[1], -4.0);
  b.value().data<double>()[2] = 9.0;
  EXPECT_EQ(store.weights().data<double>()[b_offset + 2], 9.0);

  // Gradients land in the flat gradient buffer.
  Variable x(Tensor::full({3}, 2.0, DType::f64));
  backward(mul(b, x), Tensor::full({3}, 1.0, DType::f64));
  EXPECT_EQ(values(b.grad()), std::vector<double>(3, 2.0));
  EXPECT_EQ(store.grads().data<double>()[b_offset + 1], 2.0);
  backward(mul(b, x), Tensor::full({3}, 1.0, DType::f64));
  EXPECT_EQ(values(b.grad()), std::vector<double>(3, 4.0));  // accumulates

  store.zero_grad();
  EXPECT_EQ(values(store.grads()), std::vector<double>(store.grads().numel(), 0.0));
  EXPECT_EQ(values(b.grad()), std::vector<double>(3, 0.0));
  b.clear_grad();  // a view is zeroed, not unbound
  EXPECT_EQ(b.grad().raw_data(), store.grads().slice(0, b_offset, b_offset + 3).raw_data());
}

TEST(ParameterStore, GrowingRebindsEveryView) {
  ParameterStore store(3, DType::f64);
  Variable first = store.add_parameter("first", {5}, Init::uniform(-1, 1));
  const std::vector<double> before = values(first.value());
  std::vector<Variable> more;
  for (int i = 0; i < 40; ++i) {
    std::string name = "p";
    name += std::to_string(i);  // (not "p" + to_string: GCC 12 warns falsely on that)
    more.push_back(store.add_parameter(name, {7, 3}, Init::constant(i)));
  }
  EXPECT_EQ(values(first.value()), before);  // kept through every reallocation
  EXPECT_EQ(first.value().raw_data(), store.weights().raw_data());
  EXPECT_EQ(first.grad().raw_data(), store.grads().raw_data());
  EXPECT_EQ(values(more[39].value()), std::vector<double>(21, 39.0));
  EXPECT_EQ(store.num_parameters(), 5 + 40 * 21);
}

TEST(ParameterStore, InitIsReproducibleFromTheSeed) {
  ParameterStore a(7), b(7), c(8);
  Variable wa = a.add_parameter("w", {4, 4}, Init::uniform(-0.5, 0.5));
  Variable wb = b.add_parameter("w", {4, 4}, Init::uniform(-0.5, 0.5));
  Variable wc = c.add_parameter("w", {4, 4}, Init::uniform(-0.5, 0.5));
  EXPECT_EQ(wa.value().to_vector<float>(), wb.value().to_vector<float>());
  EXPECT_NE(wa.value().to_vector<float>(), wc.value().to_vector<float>());
  for (float v : wa.value().to_vector<float>()) {
    EXPECT_GE(v, -0.5f);
    EXPECT_LT(v, 0.5f);
  }
  // A second parameter draws from its own stream, not the first one's numbers again.
  Variable wa2 = a.add_parameter("w2", {4, 4}, Init::uniform(-0.5, 0.5));
  EXPECT_NE(wa.value().to_vector<float>(), wa2.value().to_vector<float>());
}

TEST(ParameterStore, NamesBuffersAndLookup) {
  ParameterStore store;
  store.add_parameter("bn.weight", {4}, Init::constant(1));
  store.add_parameter("bn.bias", {4}, Init::zeros());
  Variable mean = store.add_buffer("bn.running_mean", {4}, Init::zeros());
  store.add_buffer("bn.running_var", {4}, Init::constant(1));
  store.add_parameter("fc.weight", {2, 4}, Init::zeros());

  EXPECT_EQ(store.num_parameters(), 16);  // buffers are not parameters
  EXPECT_FALSE(mean.requires_grad());
  EXPECT_THROW(store.add_parameter("bn.bias", {4}, Init::zeros()), Error);
  EXPECT_THROW(store.parameter("bn.running_mean"), Error);
  EXPECT_THROW(store.buffer("bn.weight"), Error);
  EXPECT_THROW(store.parameter("nope"), Error);
  EXPECT_TRUE(store.parameter("fc.weight").same(store.named_parameters()[2].second));
  EXPECT_TRUE(store.buffer("bn.running_mean").same(mean));

  std::vector<std::string> names;
  for (const auto& [name, tensor] : store.named_tensors()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn.weight", "bn.bias", "bn.running_mean",
                                             "bn.running_var", "fc.weight"}));
  std::vector<std::string> parameter_names;
  for (const auto& [name, var] : store.named_parameters()) parameter_names.push_back(name);
  EXPECT_EQ(parameter_names, (std::vector<std::string>{"bn.weight", "bn.bias", "fc.weight"}));
}

// Buffers are views into one flat tensor of their own, back to back in creation order, and stay
// bound through its growth: saving and restoring every BN statistic is one copy each way.
TEST(ParameterStore, BuffersAreViewsIntoTheirOwnFlatTensor) {
  ParameterStore store(5, DType::f64);
  std::vector<Variable> buffers;
  for (int i = 0; i < 30; ++i) {
    std::string name = "bn.running_mean";
    name += std::to_string(i);
    buffers.push_back(store.add_buffer(name, {3}, Init::constant(i)));
    std::string weight = "w";
    weight += std::to_string(i);
    store.add_parameter(weight, {2}, Init::zeros());
  }
  ASSERT_EQ(store.buffers().numel(), 30 * 3);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(buffers[i].value().raw_data(), store.buffers().slice(0, 3 * i, 3 * i + 3).raw_data());
    EXPECT_EQ(values(buffers[i].value()), std::vector<double>(3, i));  // kept through growth
  }
  const Tensor saved = store.buffers().clone();
  fill(buffers[7].value(), -1.0);
  EXPECT_EQ(store.buffers().to_vector<double>()[21], -1.0);
  store.buffers().copy_from(saved);
  EXPECT_EQ(values(buffers[7].value()), std::vector<double>(3, 7.0));
}

TEST(ParameterStore, ToTheSameDeviceKeepsEverything) {
  ParameterStore store;
  Variable w = store.add_parameter("w", {3}, Init::constant(2));
  const void* data = w.value().raw_data();
  store.to(Device::cpu());
  EXPECT_EQ(w.value().raw_data(), data);
}

TEST(ParameterStore, ToCudaMovesEveryView) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << why;
  ParameterStore store(0, DType::f32);
  Variable w = store.add_parameter("w", {3}, Init::constant(2));
  Variable m = store.add_buffer("m", {2}, Init::constant(5));
  store.to(Device::cuda());
  EXPECT_TRUE(w.device().is_cuda());
  EXPECT_TRUE(w.grad().device().is_cuda());
  EXPECT_TRUE(m.device().is_cuda());
  EXPECT_EQ(w.value().raw_data(), store.weights().raw_data());
  EXPECT_EQ(w.value().to_vector<float>(), std::vector<float>(3, 2.0f));
  EXPECT_EQ(m.value().to_vector<float>(), std::vector<float>(2, 5.0f));
  store.to(Device::cpu());
  EXPECT_EQ(w.value().to_vector<float>(), std::vector<float>(3, 2.0f));
}

}  // namespace
}  // namespace autonet
