// Rows and hand-computed checks for kernels/rnn_cell.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/rnn_cell.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// Pre-activations away from relu's kink at 0 (finite differences straddling it would disagree).
InputSpec pre_activations(const Shape& shape) {
  InputSpec ch{"ch", shape};
  ch.fill = Fill::nonzero;
  ch.low = 0.05;
  ch.high = 2.0;
  return ch;
}

constexpr double kFewRoundings = 2e-5;  // exp/tanh differ by an ulp between libm and CUDA

// The sums of a search node, each element its own (tests/sum_tolerance.h): out[b, h] adds the
// J·4 terms w[j, k]·u_k[j, b, h], dw[j, k] the B·H terms dout[b, h]·u_k[j, b, h] (u_k from the
// derived node's kernel in float64); dch and ds are a few products per element, no long sum.
std::vector<SumTerms> mix_sum_terms(const Tensors& in, const Tensors& dout) {
  const int64_t preds = in[0].size(0), batch = in[0].size(1), hidden = in[1].size(2);
  const int64_t n = batch * hidden;
  const std::vector<double> w = in[2].to_vector<double>(), g = dout[0].to_vector<double>();
  SumTerms out{std::vector<double>(n, 4.0 * preds), std::vector<double>(n, 0.0)};
  SumTerms dw{std::vector<double>(preds * 4, static_cast<double>(n)), std::vector<double>(preds * 4, 0.0)};
  for (int64_t j = 0; j < preds; ++j)
    for (int k = 0; k < kRnnActivations; ++k) {
      Tensor u = Tensor::empty({batch, hidden}, DType::f64);
      rnn_node_forward(in[0].slice(0, j, j + 1).view({batch, 2 * hidden}),
                       in[1].slice(0, j, j + 1).view({batch, hidden}), static_cast<RnnActivation>(k), u);
      const std::vector<double> uv = u.to_vector<double>();
      const double wk = w[j * 4 + k];
      for (int64_t i = 0; i < n; ++i) {
        out.squares[i] += wk * wk * uv[i] * uv[i];
        dw.squares[j * 4 + k] += g[i] * g[i] * uv[i] * uv[i];
      }
    }
  return {out, SumTerms{}, SumTerms{}, dw};  // out, then the gradients of ch, s and w
}

// Derived node: inputs [ch [B, 2H], s [B, H]].
OpCase node_case(RnnActivation act, int64_t batch, int64_t hidden, int fd_samples = 24) {
  OpCase c;
  c.name = "rnn_node/";
  c.name += rnn_activation_name(act);
  c.name += "/";
  c.name += shape_str({batch, hidden});
  c.inputs = {pre_activations({batch, 2 * hidden}), InputSpec{"s", {batch, hidden}}};
  c.outputs = {{"out", {batch, hidden}}};
  c.forward = [act](const Tensors& in, Tensors& out) { rnn_node_forward(in[0], in[1], act, out[0]); };
  c.backward = [act](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    rnn_node_backward(in[0], in[1], act, dout[0], din[0], din[1]);
  };
  c.set_tolerance(kFewRoundings, 1e-5, "exp/tanh differ by an ulp between libm and CUDA; a few "
                  "roundings per element");
  c.fd_samples = fd_samples;
  return c;
}

// Search node: inputs [ch [J, B, 2H], s [J, B, H], w [J, 4]].
OpCase mix_case(int64_t preds, int64_t batch, int64_t hidden, int fd_samples = 24) {
  OpCase c;
  c.name = "rnn_mix/";
  c.name += shape_str({preds, batch, hidden});
  InputSpec w{"w", {preds, kRnnActivations}};
  w.low = 0.0;  // softmax weights
  w.grad_mode = GradMode::Accumulate;  // α side
  c.inputs = {pre_activations({preds, batch, 2 * hidden}), InputSpec{"s", {preds, batch, hidden}},
              w};
  c.outputs = {{"out", {batch, hidden}}};
  c.forward = [](const Tensors& in, Tensors& out) { rnn_mix_forward(in[0], in[1], in[2], out[0]); };
  c.backward = [](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    rnn_mix_backward(in[0], in[1], in[2], dout[0], din[0], din[1], din[2]);
  };
  // dw's sums are trees on CUDA and double on the CPU, far below a float32 sequential sum's
  // u·sqrt(n·Σa²) (spread 1: about the 1e-3 the DARTS rows had for every element).
  c.set_tolerance(kFewRoundings, 1e-5, "per element: u·sqrt(n·Σa²) of out's 4J and dw's B·H "
                  "terms; exp/tanh differ by an ulp between libm and CUDA");
  c.sum_terms = mix_sum_terms;
  c.spread = 1;
  c.fd_samples = fd_samples;
  return c;
}
// The search node with the cell's batch norm after it (training, running statistics
// untracked): inputs as mix_case's; outputs [y, save_mean, save_invstd]; backward its own entry
// (the BN's from its output, then the mix's, in one kernel on a GPU).
// Running statistics for an eval row: fixed, different per unit, like x's device and dtype.
Tensor running_stat(const Tensor& like, int64_t hidden, double base, double step) {
  std::vector<double> values(static_cast<size_t>(hidden));
  for (int64_t i = 0; i < hidden; ++i) values[i] = base + step * double(i % 7);
  return Tensor::from_vector<double>(values, {hidden}).to(like.dtype()).to(like.device());
}

// training: the batch's statistics; else eval, normalised by running ones (the search's
// validation pass): the BN is then an affine map of the mix.
OpCase mix_batch_norm_case(int64_t preds, int64_t batch, int64_t hidden, int fd_samples = 24,
                           bool training = true) {
  OpCase c = mix_case(preds, batch, hidden, fd_samples);
  c.name = std::string(training ? "rnn_mix/batch_norm/" : "rnn_mix/batch_norm_eval/") +
           shape_str({preds, batch, hidden});
  c.outputs = {{"y", {batch, hidden}}, {"save_mean", {hidden}}, {"save_invstd", {hidden}}};
  c.outputs[1].differentiable = c.outputs[2].differentiable = false;
  c.forward = [training, hidden](const Tensors& in, Tensors& out) {
    BatchNormParams p;
    p.training = training;
    Tensor mean, var;  // untracked in training
    if (!training) {
      mean = running_stat(in[0], hidden, -0.3, 0.1);
      var = running_stat(in[0], hidden, 0.5, 0.25);
    }
    rnn_mix_batch_norm_forward(in[0], in[1], in[2], mean, var, out[0], out[1], out[2], p);
  };
  c.backward = [training](const Tensors& in, const Tensors& out, const Tensors& dout,
                          Tensors& din) {
    BatchNormParams from_output;
    from_output.training = training;
    from_output.backward_from_output = true;
    rnn_mix_batch_norm_backward(in[0], in[1], in[2], out[0], out[1], out[2], dout[0], din[0],
                                din[1], din[2], from_output);
  };
  c.sum_terms = nullptr;
  c.set_tolerance(2e-4, 2e-4, "the mix's sums (exp/tanh an ulp apart between libm and CUDA) "
                  "divided by the batch's spread; dw sums B·H terms");
  return c;
}
}  // namespace

std::vector<OpCase> rnn_cell_cases() {
  std::vector<OpCase> rows;
  for (RnnActivation act : {RnnActivation::tanh, RnnActivation::relu, RnnActivation::sigmoid,
                            RnnActivation::identity}) {
    rows.push_back(node_case(act, 1, 1));
    rows.push_back(node_case(act, 3, 7));
    rows.push_back(node_case(act, 13, 31));
  }
  // DARTS shapes: the search cell's s₀ (batch 256, nhid 300) and the derived cell (64 × 850).
  rows.push_back(node_case(RnnActivation::tanh, 256, 300, 8));
  rows.push_back(node_case(RnnActivation::relu, 64, 850, 8));
  rows.push_back(mix_case(1, 1, 1));
  rows.push_back(mix_case(2, 3, 7));
  rows.push_back(mix_case(3, 5, 13, 0));
  rows.push_back(mix_case(5, 17, 29));
  // DARTS: node 8 of the search cell reads 8 predecessors at batch 256, nhid 300; node 1 reads one.
  rows.push_back(mix_case(1, 256, 300, 8));
  rows.push_back(mix_case(8, 256, 300, 4));
  // The node and its batch norm in one forward: small, and the last node at batch 64 × nhid 300.
  rows.push_back(mix_batch_norm_case(2, 5, 7));
  rows.push_back(mix_batch_norm_case(8, 64, 300, 4));
  // The search's batch 256: on a GPU, 1,024-thread blocks (128 row groups from batch 128 on).
  rows.push_back(mix_batch_norm_case(8, 256, 300, 4));
  // More predecessors than a DARTS cell has (a block per predecessor: no bound on them).
  rows.push_back(mix_batch_norm_case(11, 6, 9));
  // Eval (the validation pass): small, and the DARTS shape of the last node.
  rows.push_back(mix_batch_norm_case(3, 5, 7, 24, /*training=*/false));
  rows.push_back(mix_batch_norm_case(8, 64, 300, 4, /*training=*/false));
  return rows;
}

namespace {
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
}  // namespace

TEST(RnnCell, NodeHandComputedValues) {
  // B = 1, H = 2. c_pre = [0, ln 3] → c = [1/2, 3/4]; h_pre = [−1, 2]; s = [0.5, −1].
  const Tensor ch = Tensor::from_vector<double>({0.0, std::log(3.0), -1.0, 2.0}, {1, 4});
  const Tensor s = Tensor::from_vector<double>({0.5, -1.0}, {1, 2});
  Tensor out = Tensor::empty({1, 2}, DType::f64);
  // relu: f = [0, 2]: out = [0.5 + 0.5·(0 − 0.5), −1 + 0.75·(2 + 1)] = [0.25, 1.25].
  rnn_node_forward(ch, s, RnnActivation::relu, out);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{0.25, 1.25}));
  // identity: f = [−1, 2]: out = [0.5 + 0.5·(−1.5), −1 + 0.75·3] = [−0.25, 1.25].
  rnn_node_forward(ch, s, RnnActivation::identity, out);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{-0.25, 1.25}));

  // Backward, identity, dout = [1, 2]:
  // dc_pre = g·(f − s)·c(1 − c) = [1·(−1.5)·0.25, 2·3·0.1875] = [−0.375, 1.125];
  // dh_pre = g·c·1 = [0.5, 1.5]; ds = g·(1 − c) = [0.5, 0.5].
  const Tensor dout = Tensor::from_vector<double>({1.0, 2.0}, {1, 2});
  Tensor dch = Tensor::full({1, 4}, 9.0, DType::f64), ds = Tensor::full({1, 2}, 9.0, DType::f64);
  rnn_node_backward(ch, s, RnnActivation::identity, dout, dch, ds);
  const std::vector<double> got = dch.to_vector<double>();
  const std::vector<double> want = {-0.375, 1.125, 0.5, 1.5};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-15) << i;
  EXPECT_EQ(ds.to_vector<double>(), (std::vector<double>{0.5, 0.5}));
}

TEST(RnnCell, MixHandComputedValues) {
  // J = 2 predecessors, B = 1, H = 1. Predecessor 0: c_pre = 0 (c = 1/2), h_pre = 1, s = 0;
  // predecessor 1: c_pre = 0, h_pre = −2, s = 1. Weights w0 = [1, 0, 0, 0] (tanh only),
  // w1 = [0, 0.5, 0, 0.25] (relu, identity).
  const Tensor ch = Tensor::from_vector<double>({0.0, 1.0, 0.0, -2.0}, {2, 1, 2});
  const Tensor s = Tensor::from_vector<double>({0.0, 1.0}, {2, 1, 1});
  const Tensor w = Tensor::from_vector<double>({1, 0, 0, 0, 0, 0.5, 0, 0.25}, {2, 4});
  Tensor out = Tensor::empty({1, 1}, DType::f64);
  rnn_mix_forward(ch, s, w, out);
  // u(pred 0, tanh) = 0.5·tanh 1; u(pred 1, relu) = 1 + 0.5·(0 − 1) = 0.5;
  // u(pred 1, identity) = 1 + 0.5·(−2 − 1) = −0.5. out = 0.5·tanh 1 + 0.25 − 0.125.
  const double t1 = std::tanh(1.0);
  EXPECT_NEAR(out.item(), 0.5 * t1 + 0.125, 1e-15);

  // dout = 2. dw[j, k] accumulates 2·u_{jk} onto 1:
  // pred 0: u = [0.5·tanh 1, 0.5·relu 1 = 0.5, 0.5·σ(1), 0.5]; pred 1: u = [1 + 0.5(tanh(−2) − 1),
  // 0.5, 1 + 0.5(σ(−2) − 1), −0.5].
  const Tensor dout = Tensor::from_vector<double>({2.0}, {1, 1});
  Tensor dch = Tensor::empty({2, 1, 2}, DType::f64), ds = Tensor::empty({2, 1, 1}, DType::f64);
  Tensor dw = Tensor::full({2, 4}, 1.0, DType::f64);
  rnn_mix_backward(ch, s, w, dout, dch, ds, dw);
  const std::vector<double> want_dw = {
      1 + 2 * 0.5 * t1,  1 + 2 * 0.5, 1 + 2 * 0.5 * sigmoid(1), 1 + 2 * 0.5,
      1 + 2 * (1 + 0.5 * (std::tanh(-2.0) - 1)), 1 + 2 * 0.5, 1 + 2 * (1 + 0.5 * (sigmoid(-2) - 1)),
      1 + 2 * -0.5};
  const std::vector<double> got_dw = dw.to_vector<double>();
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(got_dw[i], want_dw[i], 1e-14) << i;
  // pred 0 (W = 1, F = tanh 1): dc_pre = 2·(tanh 1 − 0)·¼, dh_pre = 2·½·(1 − tanh² 1), ds = 2·½.
  // pred 1 (W = 0.75, F = 0.5·0 + 0.25·(−2) = −0.5): dc_pre = 2·(−0.5 − 0.75)·¼ = −0.625,
  // dh_pre = 2·½·(0.5·relu'(−2) + 0.25) = 0.25, ds = 2·0.75·½ = 0.75.
  const std::vector<double> got_dch = dch.to_vector<double>();
  EXPECT_NEAR(got_dch[0], 0.5 * t1, 1e-15);
  EXPECT_NEAR(got_dch[1], 1 - t1 * t1, 1e-15);
  EXPECT_NEAR(got_dch[2], -0.625, 1e-15);
  EXPECT_NEAR(got_dch[3], 0.25, 1e-15);
  EXPECT_EQ(ds.to_vector<double>(), (std::vector<double>{1.0, 0.75}));

  // Gradients not wanted are skipped.
  Tensor none;
  dw.fill_(0.0);
  rnn_mix_backward(ch, s, w, dout, none, none, dw);
  EXPECT_NEAR(dw.to_vector<double>()[0], 2 * 0.5 * t1, 1e-15);
}

TEST(RnnCell, ActivationNames) {
  EXPECT_EQ(rnn_activation_from_name("sigmoid"), RnnActivation::sigmoid);
  EXPECT_STREQ(rnn_activation_name(RnnActivation::identity), "identity");
  EXPECT_THROW(rnn_activation_from_name("none"), Error);
  EXPECT_THROW(rnn_activation_from_name("gelu"), Error);
}

TEST(RnnCell, RejectsBadArguments) {
  const Tensor ch = Tensor::zeros({3, 8}), s = Tensor::zeros({3, 4});
  Tensor out = Tensor::zeros({3, 4});
  const auto act = RnnActivation::tanh;
  EXPECT_NO_THROW(rnn_node_forward(ch, s, act, out));
  EXPECT_THROW(rnn_node_forward(Tensor::zeros({3, 7}), s, act, out), Error);  // odd 2H
  EXPECT_THROW(rnn_node_forward(Tensor::zeros({3, 8, 1}), s, act, out), Error);
  EXPECT_THROW(rnn_node_forward(ch, Tensor::zeros({3, 5}), act, out), Error);
  EXPECT_THROW(rnn_node_forward(ch, Tensor::zeros({3, 4}, DType::f64), act, out), Error);
  EXPECT_THROW(rnn_node_forward(Tensor::zeros({3, 8}, DType::i32), Tensor::zeros({3, 4}, DType::i32),
                                act, out),
               Error);
  EXPECT_THROW(rnn_node_forward(ch, Tensor::zeros({3, 8}).slice(1, 0, 8, 2), act, out), Error);
  EXPECT_THROW(rnn_node_forward(ch, Tensor(), act, out), Error);
  EXPECT_THROW(rnn_node_forward(ch, s, static_cast<RnnActivation>(7), out), Error);
  Tensor bad_out = Tensor::zeros({4, 3});
  EXPECT_THROW(rnn_node_forward(ch, s, act, bad_out), Error);

  Tensor dch = Tensor::zeros({3, 8}), ds = Tensor::zeros({3, 4}), none;
  EXPECT_NO_THROW(rnn_node_backward(ch, s, act, out, dch, none));
  EXPECT_THROW(rnn_node_backward(ch, s, act, Tensor::zeros({3, 5}), dch, ds), Error);
  Tensor bad_dch = Tensor::zeros({3, 4});
  EXPECT_THROW(rnn_node_backward(ch, s, act, out, bad_dch, ds), Error);
  Tensor bad_ds = Tensor::zeros({3, 4}, DType::f64);
  EXPECT_THROW(rnn_node_backward(ch, s, act, out, dch, bad_ds), Error);

  const Tensor mch = Tensor::zeros({2, 3, 8}), ms = Tensor::zeros({2, 3, 4});
  const Tensor w = Tensor::zeros({2, 4});
  EXPECT_NO_THROW(rnn_mix_forward(mch, ms, w, out));
  EXPECT_THROW(rnn_mix_forward(ch, s, w, out), Error);  // ch not [J, B, 2H]
  EXPECT_THROW(rnn_mix_forward(Tensor::zeros({0, 3, 8}), Tensor::zeros({0, 3, 4}),
                               Tensor::zeros({0, 4}), out),
               Error);  // J = 0
  EXPECT_THROW(rnn_mix_forward(mch, ms, Tensor::zeros({2, 5}), out), Error);  // w with `none`
  EXPECT_THROW(rnn_mix_forward(mch, ms, Tensor::zeros({3, 4}), out), Error);
  EXPECT_THROW(rnn_mix_forward(mch, Tensor::zeros({1, 3, 4}), w, out), Error);
  EXPECT_THROW(rnn_mix_forward(mch, ms, Tensor::zeros({2, 4}, DType::f64), out), Error);
  Tensor mix_bad_out = Tensor::zeros({2, 3, 4});
  EXPECT_THROW(rnn_mix_forward(mch, ms, w, mix_bad_out), Error);

  Tensor mdch = Tensor::zeros({2, 3, 8}), mds = Tensor::zeros({2, 3, 4}), dw = Tensor::zeros({2, 4});
  EXPECT_NO_THROW(rnn_mix_backward(mch, ms, w, out, mdch, mds, dw));
  EXPECT_THROW(rnn_mix_backward(mch, ms, w, Tensor::zeros({3, 5}), mdch, mds, dw), Error);
  Tensor bad_dw = Tensor::zeros({8});
  EXPECT_THROW(rnn_mix_backward(mch, ms, w, out, mdch, mds, bad_dw), Error);
  Tensor bad_mds = Tensor::zeros({2, 3, 8});
  EXPECT_THROW(rnn_mix_backward(mch, ms, w, out, mdch, bad_mds, dw), Error);
  Tensor bad_mdch = Tensor::zeros({2, 3, 4});
  EXPECT_THROW(rnn_mix_backward(mch, ms, w, out, bad_mdch, mds, dw), Error);
}

}  // namespace autonet::test
