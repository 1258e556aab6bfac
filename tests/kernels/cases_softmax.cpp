// Rows and hand-computed checks for kernels/softmax.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/softmax.h"
#include "tests/kernels/accumulate_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// dx written, or added per dx_mode (α's gradient is there before its softmax's backward runs).
OpCase softmax_case(const Shape& shape, bool log, int fd_samples = 24,
                    GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = std::string(log ? "softmax/log/" : "softmax/plain/") + shape_str(shape) +
           (dx_mode == GradMode::Accumulate ? "/dx_added" : "");
  c.inputs = {{"x", shape, Fill::uniform, -3.0, 3.0}};
  c.inputs[0].grad_mode = dx_mode;
  c.outputs = {{"y", shape}};
  c.forward = [log](const Tensors& in, Tensors& out) { softmax_forward(in[0], out[0], log); };
  c.backward = [log, dx_mode](const Tensors&, const Tensors& out, const Tensors& dout,
                              Tensors& din) {
    softmax_backward(out[0], dout[0], din[0], log, dx_mode);
  };
  c.set_tolerance(1e-6, 1e-5,
                  "CUDA's expf/logf are within 2 ulp of glibc; double row sums in a different order");
  c.fd_samples = fd_samples;
  return c;
}

OpCase cross_entropy_case(int64_t n, int64_t classes, double smoothing, int fd_samples = 24) {
  OpCase c;
  c.name = "softmax/cross_entropy/eps" + std::to_string(smoothing) + "/" + shape_str({n, classes});
  InputSpec targets{"targets", {n}, Fill::index, 0.0, static_cast<double>(classes)};
  targets.differentiable = false;
  c.inputs = {{"logits", {n, classes}, Fill::uniform, -3.0, 3.0}, targets};
  c.outputs = {{"loss", {1}}, {"log_probs", {n, classes}, /*differentiable=*/false}};
  c.forward = [smoothing](const Tensors& in, Tensors& out) {
    cross_entropy_forward(in[0], in[1], out[0], out[1], smoothing);
  };
  c.backward = [smoothing](const Tensors& in, const Tensors& out, const Tensors& dout,
                           Tensors& din) {
    cross_entropy_backward(out[1], in[1], dout[0], din[0], smoothing);
  };
  c.set_tolerance(1e-6, 1e-5,
                  "CUDA's expf/logf are within 2 ulp of glibc; double row sums in a different order");
  c.fd_samples = fd_samples;
  return c;
}

OpCase nll_case(int64_t n, int64_t classes) {
  OpCase c;
  c.name = "softmax/nll/" + shape_str({n, classes});
  InputSpec targets{"targets", {n}, Fill::index, 0.0, static_cast<double>(classes)};
  targets.differentiable = false;
  c.inputs = {{"log_probs", {n, classes}, Fill::uniform, -5.0, 0.0}, targets};
  c.outputs = {{"loss", {1}}};
  c.forward = [](const Tensors& in, Tensors& out) { nll_forward(in[0], in[1], out[0]); };
  c.backward = [](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    nll_backward(in[1], dout[0], din[0]);
  };
  c.set_tolerance(1e-6, 1e-6,
                  "a double sum over the batch in a different order, one float rounding");
  c.exact_on_integers = true;
  return c;
}
}  // namespace

std::vector<OpCase> softmax_cases() {
  std::vector<OpCase> rows;
  for (bool log : {false, true}) {
    rows.push_back(softmax_case({1, 1}, log));
    rows.push_back(softmax_case({7, 13}, log));
    rows.push_back(softmax_case({3, 5, 7}, log));
    rows.push_back(softmax_case({64, 10}, log));         // the DARTS classifier
    rows.push_back(softmax_case({5, 8}, log));           // DARTS α rows: 14 edges × 8 ops
    rows.push_back(softmax_case({4, 10000}, log, 8));    // a PTB vocabulary: whole-block rows
    rows.push_back(softmax_case({5, 8}, log, 24, GradMode::Accumulate));
    rows.push_back(softmax_case({4, 10000}, log, 4, GradMode::Accumulate));
  }
  rows.push_back(cross_entropy_case(1, 2, 0.0));
  rows.push_back(cross_entropy_case(3, 1, 0.1));  // one class: the loss is identically 0
  rows.push_back(cross_entropy_case(7, 13, 0.0));
  rows.push_back(cross_entropy_case(64, 10, 0.0));   // DARTS CIFAR-10 classifier
  rows.push_back(cross_entropy_case(64, 10, 0.1));   // label-smoothed (DARTS ImageNet setting)
  rows.push_back(cross_entropy_case(4, 10000, 0.1, 8));
  rows.push_back(cross_entropy_case(4, 10000, 0.0, 8));
  rows.push_back(nll_case(1, 2));
  rows.push_back(nll_case(64, 10));
  rows.push_back(nll_case(4, 10000));
  return rows;
}

TEST(Softmax, HandComputedValues) {
  // softmax([0, ln 3]) = [1/4, 3/4].
  Tensor x = Tensor::from_vector<double>({0.0, std::log(3.0)}, {1, 2});
  Tensor y = Tensor::empty({1, 2}, DType::f64);
  softmax_forward(x, y);
  EXPECT_NEAR(y.to_vector<double>()[0], 0.25, 1e-15);
  EXPECT_NEAR(y.to_vector<double>()[1], 0.75, 1e-15);
  softmax_forward(x, y, /*log=*/true);
  EXPECT_NEAR(y.to_vector<double>()[0], std::log(0.25), 1e-15);

  // The row maximum is subtracted: huge logits stay finite.
  Tensor big = Tensor::from_vector<float>({1000, 1000, -1000}, {1, 3}), p = Tensor::empty({1, 3});
  softmax_forward(big, p);
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{0.5f, 0.5f, 0.0f}));

  // Backward from the saved output: y = [1/4, 3/4], dy = [1, 0] → dx = y·(dy − 1/4) = [3/16, −3/16].
  Tensor probs = Tensor::from_vector<double>({0.25, 0.75}, {1, 2});
  Tensor dy = Tensor::from_vector<double>({1, 0}, {1, 2}), dx = Tensor::empty({1, 2}, DType::f64);
  softmax_backward(probs, dy, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{3.0 / 16, -3.0 / 16}));
  // log-softmax: dx = dy − softmax·Σdy = [1 − 1/4, −3/4].
  Tensor logp = Tensor::from_vector<double>({std::log(0.25), std::log(0.75)}, {1, 2});
  softmax_backward(logp, dy, dx, /*log=*/true);
  EXPECT_NEAR(dx.to_vector<double>()[0], 0.75, 1e-15);
  EXPECT_NEAR(dx.to_vector<double>()[1], -0.75, 1e-15);
}

// Added into a gradient already there: the written dx added with axpby, bit for bit.
TEST(Softmax, AccumulatedDxIsWrittenDxAddedWithAxpbyExactly) {
  for (DType dtype : {DType::f32, DType::f64})
    for (bool log : {false, true}) {
      const Shape shape{14, 8};
      Tensor x = Tensor::empty(shape, dtype), y = Tensor::empty(shape, dtype);
      Tensor dy = Tensor::empty(shape, dtype);
      fill_uniform(x, -3.0, 3.0, 1);
      fill_uniform(dy, -1.0, 1.0, 2);
      softmax_forward(x, y, log);
      expect_added_dx_is_written_dx_plus_axpby(
          shape, dtype, [&](Tensor& dx, GradMode mode) { softmax_backward(y, dy, dx, log, mode); });
    }
}

TEST(Softmax, CrossEntropyAndNllHandComputed) {
  // logits [0, ln 3] → log p = [ln 1/4, ln 3/4]; target 0, ε = 0.2:
  // loss = −0.8·ln(1/4) − 0.1·(ln(1/4) + ln(3/4)); dlogits = [1/4 − 0.9, 3/4 − 0.1]·dloss.
  Tensor logits = Tensor::from_vector<double>({0.0, std::log(3.0)}, {1, 2});
  Tensor targets = Tensor::from_vector<int64_t>({0}, {1});
  Tensor loss = Tensor::empty({1}, DType::f64), logp = Tensor::empty({1, 2}, DType::f64);
  cross_entropy_forward(logits, targets, loss, logp, 0.2);
  EXPECT_NEAR(loss.item(), -0.8 * std::log(0.25) - 0.1 * (std::log(0.25) + std::log(0.75)), 1e-14);
  Tensor dloss = Tensor::from_vector<double>({2.0}, {1}), dlogits = Tensor::empty({1, 2}, DType::f64);
  cross_entropy_backward(logp, targets, dloss, dlogits, 0.2);
  EXPECT_NEAR(dlogits.to_vector<double>()[0], 2 * (0.25 - 0.9), 1e-14);
  EXPECT_NEAR(dlogits.to_vector<double>()[1], 2 * (0.75 - 0.1), 1e-14);
  cross_entropy_forward(logits, targets, loss, logp);  // ε = 0: −ln(1/4)
  EXPECT_NEAR(loss.item(), std::log(4.0), 1e-14);

  // One class: log p = 0, so the loss is 0 whatever the smoothing.
  Tensor one = Tensor::from_vector<double>({5.0, -2.0}, {2, 1});
  Tensor zeros = Tensor::from_vector<int64_t>({0, 0}, {2}), lp1 = Tensor::empty({2, 1}, DType::f64);
  cross_entropy_forward(one, zeros, loss, lp1, 0.3);
  EXPECT_EQ(loss.item(), 0.0);

  // NLL: log p = [[-1, -2], [-3, -4]], targets [1, 0] → (2 + 3) / 2.
  Tensor lp = Tensor::from_vector<float>({-1, -2, -3, -4}, {2, 2});
  Tensor t = Tensor::from_vector<int64_t>({1, 0}, {2});
  Tensor l = Tensor::empty({1});
  nll_forward(lp, t, l);
  EXPECT_EQ(l.item(), 2.5);
  Tensor dl = Tensor::from_vector<float>({2}, {1}), dlp = Tensor::empty({2, 2});
  nll_backward(t, dl, dlp);
  EXPECT_EQ(dlp.to_vector<float>(), (std::vector<float>{0, -1, -1, 0}));
}

TEST(Softmax, TargetOutOfRangeNamesRowAndValue) {
  Tensor logits = Tensor::zeros({3, 4});
  Tensor targets = Tensor::from_vector<int64_t>({0, 5, 1}, {3});
  Tensor loss = Tensor::empty({1}), logp = Tensor::empty({3, 4});
  try {
    cross_entropy_forward(logits, targets, loss, logp);
    FAIL() << "an out-of-range target must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 5 of row 1"), std::string::npos) << e.what();
  }
  Tensor negative = Tensor::from_vector<int64_t>({0, 0, -1}, {3});
  EXPECT_THROW(nll_forward(logp, negative, loss), Error);
  Tensor dloss = Tensor::full({1}, 1.0), g = Tensor::empty({3, 4});
  EXPECT_THROW(cross_entropy_backward(logp, targets, dloss, g), Error);
  EXPECT_THROW(nll_backward(negative, dloss, g), Error);
}

TEST(Softmax, CudaTargetOutOfRangeGivesNan) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  const Device gpu = Device::cuda(0);
  Tensor logits = Tensor::zeros({3, 4}, DType::f32, gpu);
  Tensor targets = Tensor::from_vector<int64_t>({0, 5, 1}, {3}, gpu);
  Tensor loss = Tensor::empty({1}, DType::f32, gpu), logp = Tensor::empty({3, 4}, DType::f32, gpu);
  cross_entropy_forward(logits, targets, loss, logp, 0.1);
  EXPECT_TRUE(std::isnan(loss.item()));
  nll_forward(logp, targets, loss);
  EXPECT_TRUE(std::isnan(loss.item()));
  Tensor good = Tensor::from_vector<int64_t>({0, 3, 1}, {3}, gpu);
  cross_entropy_forward(logits, good, loss, logp);
  EXPECT_NEAR(loss.item(), std::log(4.0), 1e-6);
}

TEST(Softmax, RejectsBadArguments) {
  Tensor x = Tensor::empty({3, 4}), y = Tensor::empty({3, 4});
  Tensor wrong = Tensor::empty({4, 3}), d = Tensor::empty({3, 4}, DType::f64);
  EXPECT_THROW(softmax_forward(x, wrong), Error);
  EXPECT_THROW(softmax_forward(x, d), Error);
  Tensor ints = Tensor::empty({3, 4}, DType::i32);
  EXPECT_THROW(softmax_forward(ints, ints), Error);
  Tensor strided = Tensor::empty({3, 8}).slice(1, 0, 8, 2);
  EXPECT_THROW(softmax_forward(strided, y), Error);
  Tensor no_classes = Tensor::empty({3, 0});
  EXPECT_THROW(softmax_forward(no_classes, no_classes), Error);
  EXPECT_THROW(softmax_backward(y, wrong, y), Error);
  EXPECT_THROW(softmax_backward(y, y, d), Error);

  Tensor targets = Tensor::zeros({3}, DType::i64), loss = Tensor::empty({1});
  Tensor logp = Tensor::empty({3, 4});
  cross_entropy_forward(x.fill_(0.0), targets, loss, logp);  // the valid call
  EXPECT_THROW(cross_entropy_forward(x, Tensor::zeros({3}, DType::i32), loss, logp), Error);
  EXPECT_THROW(cross_entropy_forward(x, Tensor::zeros({4}, DType::i64), loss, logp), Error);
  Tensor loss2 = Tensor::empty({2}), loss64 = Tensor::empty({1}, DType::f64);
  EXPECT_THROW(cross_entropy_forward(x, targets, loss2, logp), Error);
  EXPECT_THROW(cross_entropy_forward(x, targets, loss64, logp), Error);
  EXPECT_THROW(cross_entropy_forward(x, targets, loss, wrong), Error);
  EXPECT_THROW(cross_entropy_forward(x, targets, loss, logp, -0.1), Error);
  EXPECT_THROW(cross_entropy_forward(x, targets, loss, logp, 1.0), Error);
  Tensor three_d = Tensor::empty({3, 4, 1}), logp3 = Tensor::empty({3, 4, 1});
  EXPECT_THROW(cross_entropy_forward(three_d, targets, loss, logp3), Error);
  Tensor empty_batch = Tensor::empty({0, 4}), no_targets = Tensor::zeros({0}, DType::i64);
  EXPECT_THROW(cross_entropy_forward(empty_batch, no_targets, loss, empty_batch), Error);
  Tensor dloss = Tensor::full({1}, 1.0), dlogits = Tensor::empty({3, 4});
  EXPECT_THROW(cross_entropy_backward(logp, targets, Tensor::full({1}, 1.0, DType::f64), dlogits),
               Error);
  EXPECT_THROW(cross_entropy_backward(logp, targets, dloss, wrong), Error);
  EXPECT_THROW(cross_entropy_backward(logp, targets, dloss, dlogits, 2.0), Error);
  EXPECT_THROW(nll_forward(logp, targets, loss64), Error);
  EXPECT_THROW(nll_forward(ints, targets, loss), Error);
  Tensor four = Tensor::empty({4, 4});
  EXPECT_THROW(nll_backward(targets, dloss, four), Error);
  EXPECT_THROW(nll_backward(Tensor::zeros({3}, DType::f32), dloss, dlogits), Error);
}

}  // namespace autonet::test
