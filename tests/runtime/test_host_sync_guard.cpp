// runtime/host_sync_guard.h: inside a NoHostSyncScope every call that would wait for a GPU from the
// host throws on every device, naming the call and the scope; device-side work does not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/host_sync_guard.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

// The message of the Error `fn` throws ("" when it throws none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

TEST(NoHostSyncScope, EveryCallThatWouldWaitThrowsNamingItAndTheScope) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor one = Tensor::from_vector<float>({5}, {1});
  Tensor strided = x.slice(1, 0, 2, 2), target = Tensor::empty({2, 1});
  NoHostSyncScope scope("the recorded pass");
  const std::vector<std::pair<const char*, std::string>> calls = {
      {"Tensor::item", error_of([&] { one.item(); })},
      {"Tensor::to_vector", error_of([&] { x.to_vector<float>(); })},
      {"Tensor::fill_", error_of([&] { x.fill_(1.0); })},
      {"Tensor::from_vector", error_of([] { Tensor::from_vector<float>({1}, {1}); })},
      {"Tensor::to(dtype)", error_of([&] { x.to(DType::f64); })},
      {"Tensor::copy_from of a strided view", error_of([&] { target.copy_from(strided); })},
      {"fill_random", error_of([&] { fill_uniform(x, -1, 1, 7); })},
      {"synchronize", error_of([] { synchronize(Device::cpu()); })}};
  for (const auto& [call, message] : calls) {
    SCOPED_TRACE(call);
    EXPECT_NE(message.find(call), std::string::npos) << message;
    EXPECT_NE(message.find("inside the recorded pass"), std::string::npos) << message;
  }
}

TEST(NoHostSyncScope, DeviceWorkPassesAndScopesNest) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
  {
    NoHostSyncScope outer("the outer pass");
    Tensor y = Tensor::empty({4});  // an allocation
    y.copy_from(x);                 // a copy within one device
    EXPECT_NE(error_of([] { Tensor::zeros({4}); }).find("Tensor::fill_"), std::string::npos)
        << "zeros are filled on the host and copied over";
    Tensor z = x.clone();
    {
      NoHostSyncScope inner("the inner pass");
      const std::string message = error_of([&] { x.slice(0, 0, 1).item(); });
      EXPECT_NE(message.find("the inner pass"), std::string::npos) << message;
    }
    EXPECT_NE(error_of([&] { x.to_vector<float>(); }).find("the outer pass"), std::string::npos);
  }
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));  // allowed again after
}

}  // namespace
}  // namespace autonet
