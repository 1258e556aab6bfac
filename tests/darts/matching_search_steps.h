// Two search networks that should compute the same thing by different kernels (a fused path and
// the unfused reference: SearchConfig::fold_batch_norms, group_state_ops) run the same search
// steps; then their weights, α, BN running statistics and an eval forward are compared.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "darts/tasks/search_trainer.h"
#include "runtime/op_profile.h"
#include "tests/darts/tiny_searcher.h"

namespace autonet::test {

// max |a − b| ≤ tol · max(max |b|, floor): the two paths sum in other orders, nothing else
// differs. `floor` is the magnitude rounding is relative to when b itself is about zero.
inline void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what,
                         double floor = 0.0) {
  const std::vector<double> x = a.to(Device::cpu()).to(DType::f64).to_vector<double>();
  const std::vector<double> y = b.to(Device::cpu()).to(DType::f64).to_vector<double>();
  ASSERT_EQ(x.size(), y.size()) << what;
  double scale = 0, diff = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    scale = std::max(scale, std::abs(y[i]));
    diff = std::max(diff, std::abs(x[i] - y[i]));
  }
  EXPECT_GT(scale, 0.0) << what;
  scale = std::max(scale, floor);
  EXPECT_LE(diff, tol * scale) << what << ": max difference " << diff << " of " << scale;
}

// Two first-order search steps of each on the same batches (the second starts from the first's
// optimizer state), each step's ops counted into its network's profile.
inline void run_matching_steps(TinySearcher& a, TinySearcher& b, OpProfile& a_profile,
                               OpProfile& b_profile) {
  for (int step = 0; step < 2; ++step) {
    const Tensor xt = random_images({4, 3, 8, 8}, 100 + step, Device::cpu());
    const Tensor xv = random_images({4, 3, 8, 8}, 200 + step, Device::cpu());
    const Tensor yt = labels_for(4, step, Device::cpu()), yv = labels_for(4, step + 3, Device::cpu());
    {
      OpProfileScope scope(a_profile);
      darts::search_step(a.net, a.architect, a.sgd, xt, yt, xv, yv, 5.0);
    }
    {
      OpProfileScope scope(b_profile);
      darts::search_step(b.net, b.architect, b.sgd, xt, yt, xv, yv, 5.0);
    }
  }
}

// a's weights, α, every BN running statistic and an eval-mode forward (which normalises with the
// running statistics) within tol of b's. Leaves both networks in eval mode.
inline void expect_same_state(TinySearcher& a, TinySearcher& b, double tol) {
  expect_close(a.weights.weights(), b.weights.weights(), tol, "weights");
  expect_close(a.alphas.weights(), b.alphas.weights(), tol, "α");
  int buffers = 0;
  for (const ParameterStore::Entry& e : b.weights.entries()) {
    if (!e.is_buffer) continue;
    // Running means of about-zero batch means: their rounding is relative to the data (~1).
    expect_close(a.weights.buffer(e.name).value(), e.var.value(), tol, e.name, 1.0);
    ++buffers;
  }
  EXPECT_GT(buffers, 100);  // every BN's running mean and variance
  a.net.eval();
  b.net.eval();
  NoGradGuard no_grad;
  const Variable x(random_images({4, 3, 8, 8}, 300, Device::cpu()));
  expect_close(a.net.forward(x).value(), b.net.forward(x).value(), tol, "eval logits");
}

// Launches of `op` in a profile (0 when it never ran).
inline int64_t launches_of(const std::map<std::string, OpTotals>& ops, const std::string& op) {
  return ops.count(op) ? ops.at(op).cost.launches : int64_t(0);
}

}  // namespace autonet::test
