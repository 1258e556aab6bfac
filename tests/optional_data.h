// Optional data sets of the tests. A test that needs one skips when it is absent, always with the
// same message, which the skip inventory (scripts/check-skips) declares as a by-design skip.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>

namespace autonet::test {

// Debian's dataset-fashion-mnist (scripts/install-deps installs it).
inline bool have_fashion_mnist() {
  return std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}

}  // namespace autonet::test

// In a test body: skip unless Debian's Fashion-MNIST package is installed.
#define AN_SKIP_WITHOUT_FASHION_MNIST()                                      \
  if (!::autonet::test::have_fashion_mnist())                                \
  GTEST_SKIP() << "optional data: Debian's dataset-fashion-mnist is not installed"
