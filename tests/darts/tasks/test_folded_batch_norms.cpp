// The search network with its mixed ops' closing batch norms folded into the weighted sum
// (SearchConfig::fold_batch_norms, kernels/bn_mixed_sum.h) against the same network running each
// BN alone: whole search steps agree up to float32 rounding, with far fewer launches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "darts/tasks/search_trainer.h"
#include "runtime/op_profile.h"
#include "tests/darts/tiny_searcher.h"

namespace autonet::darts {
namespace {

using test::labels_for;
using test::random_images;
using test::TinySearcher;

SearchConfig with_folding(bool fold) {
  SearchConfig c = TinySearcher::config();
  c.fold_batch_norms = fold;
  return c;
}

// max |a − b| ≤ tol · max(max |b|, floor): the two paths sum in other orders, nothing else
// differs. `floor` is the magnitude rounding is relative to when b itself is about zero.
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what,
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

// Two first-order search steps of each (the second starts from the first's optimizer state);
// then the weights, α, the BN running statistics and an eval-mode forward (which normalises with
// the running statistics) are compared.
TEST(FoldedBatchNorms, SearchStepsMatchTheUnfoldedNetwork) {
  TinySearcher folded(Device::cpu(), {}, with_folding(true));
  TinySearcher unfolded(Device::cpu(), {}, with_folding(false));
  OpProfile folded_profile, unfolded_profile;
  for (int step = 0; step < 2; ++step) {
    const Tensor xt = random_images({4, 3, 8, 8}, 100 + step, Device::cpu());
    const Tensor xv = random_images({4, 3, 8, 8}, 200 + step, Device::cpu());
    const Tensor yt = labels_for(4, step, Device::cpu()), yv = labels_for(4, step + 3, Device::cpu());
    {
      OpProfileScope scope(folded_profile);
      search_step(folded.net, folded.architect, folded.sgd, xt, yt, xv, yv, 5.0);
    }
    {
      OpProfileScope scope(unfolded_profile);
      search_step(unfolded.net, unfolded.architect, unfolded.sgd, xt, yt, xv, yv, 5.0);
    }
  }
  // Float32 sums of another order, carried through two SGD and two Adam steps: seen ≤ 4e-7.
  const double tol = 1e-5;
  expect_close(folded.weights.weights(), unfolded.weights.weights(), tol, "weights");
  expect_close(folded.alphas.weights(), unfolded.alphas.weights(), tol, "α");
  int buffers = 0;
  for (const ParameterStore::Entry& e : unfolded.weights.entries()) {
    if (!e.is_buffer) continue;
    // Running means of about-zero batch means: their rounding is relative to the data (~1).
    expect_close(folded.weights.buffer(e.name).value(), e.var.value(), tol, e.name, 1.0);
    ++buffers;
  }
  EXPECT_GT(buffers, 100);  // every BN's running mean and variance
  folded.net.eval();
  unfolded.net.eval();
  NoGradGuard no_grad;
  const Variable x(random_images({4, 3, 8, 8}, 300, Device::cpu()));
  expect_close(folded.net.forward(x).value(), unfolded.net.forward(x).value(), tol, "eval logits");

  // The folded step: every mixed op is one fused op, and the step launches far less.
  const auto folded_ops = folded_profile.by_op(), unfolded_ops = unfolded_profile.by_op();
  EXPECT_EQ(folded_ops.count("mixed_sum_forward"), 0u);
  EXPECT_EQ(unfolded_ops.count("bn_mixed_sum_forward"), 0u);
  EXPECT_EQ(folded_ops.at("bn_mixed_sum_forward").calls,
            unfolded_ops.at("mixed_sum_forward").calls);
  // Per edge and pass, K − 1 BNs and the sum (2 + 2 launches each way) become 2 + 2 launches.
  auto launches = [](const std::map<std::string, OpTotals>& ops, const std::string& op) {
    return ops.count(op) ? ops.at(op).cost.launches : int64_t(0);
  };
  int64_t folded_bn = 0, unfolded_bn = 0;
  for (const char* op : {"batch_norm_forward", "batch_norm_backward", "mixed_sum_forward",
                         "mixed_sum_backward", "bn_mixed_sum_forward", "bn_mixed_sum_backward"}) {
    folded_bn += launches(folded_ops, op);
    unfolded_bn += launches(unfolded_ops, op);
  }
  EXPECT_LT(folded_bn * 5, unfolded_bn * 2);
  // Nothing else changed but this: the fused sum's backward reads its two pool candidates (for
  // x̂ and dα) and rebuilds them (autograd SavedValue), where each unfolded BN read its output.
  const int64_t rebuilt_pools = 2 * folded_ops.at("bn_mixed_sum_backward").calls;
  EXPECT_EQ(launches(folded_ops, "pool2d_forward"),
            launches(unfolded_ops, "pool2d_forward") + rebuilt_pools);
  EXPECT_EQ(folded_profile.total().cost.launches - folded_bn - rebuilt_pools,
            unfolded_profile.total().cost.launches - unfolded_bn);
}

}  // namespace
}  // namespace autonet::darts
