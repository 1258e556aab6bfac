// Recurrent DARTS models (darts/rnn/model.h): sizes and names, the cell against a float64
// evaluation of reference §7.2–§7.4 written out loop by loop, the dropout masks' reuse, gradients
// through the whole model, and derivation from α.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "darts/primitives.h"
#include "darts/rnn/model.h"
#include "kernels/dropout.h"
#include "runtime/host_sync_guard.h"
#include "tests/autograd/gradcheck.h"

namespace autonet::darts {
namespace {

using Matrix = std::vector<std::vector<double>>;

RnnConfig tiny_config(int64_t vocabulary = 7, int64_t nhid = 3) {
  RnnConfig c;
  c.vocabulary = vocabulary;
  c.emsize = c.nhid = nhid;
  c.dropoute = 0.3;  // every dropout on, so the evaluation below checks every mask
  c.seed = 11;
  return c;
}

// The mask a dropout draw with `key` puts on `count` elements: 0 or 1/(1 − p).
std::vector<double> mask_of(double p, const PhiloxKey& key, int64_t count) {
  if (p == 0) return std::vector<double>(count, 1.0);
  const Tensor ones = Tensor::full({count}, 1.0, DType::f64);
  Tensor m = Tensor::empty({count}, DType::f64);
  DropoutParams params;
  params.p = p;
  params.key = key;
  dropout_forward(ones, m, params);
  return m.to_vector<double>();
}

Matrix as_matrix(const Tensor& t) {
  const std::vector<double> v = t.to(DType::f64).to_vector<double>();
  Matrix m(t.size(0), std::vector<double>(t.size(1)));
  for (int64_t r = 0; r < t.size(0); ++r)
    for (int64_t c = 0; c < t.size(1); ++c) m[r][c] = v[r * t.size(1) + c];
  return m;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double activation(const std::string& name, double x) {
  if (name == "tanh") return std::tanh(x);
  if (name == "relu") return x > 0 ? x : 0;
  if (name == "sigmoid") return sigmoid(x);
  return x;  // identity
}

// BatchNorm1d without affine: batch statistics (biased variance) in training, running
// statistics (a fresh model's 0 and 1) in eval.
void batch_norm(Matrix& s, bool training) {
  const size_t b = s.size(), h = s[0].size();
  for (size_t c = 0; c < h; ++c) {
    double mean = 0, var = 0;
    if (training) {
      for (size_t r = 0; r < b; ++r) mean += s[r][c] / b;
      for (size_t r = 0; r < b; ++r) var += (s[r][c] - mean) * (s[r][c] - mean) / b;
    } else {
      var = 1;
    }
    for (size_t r = 0; r < b; ++r) s[r][c] = (s[r][c] - mean) / std::sqrt(var + 1e-5);
  }
}

// [B, H] · W [H, 2H] → gate and candidate halves.
Matrix times(const Matrix& x, const Matrix& w) {
  Matrix y(x.size(), std::vector<double>(w[0].size(), 0.0));
  for (size_t r = 0; r < x.size(); ++r)
    for (size_t k = 0; k < w.size(); ++k)
      for (size_t c = 0; c < w[0].size(); ++c) y[r][c] += x[r][k] * w[k][c];
  return y;
}

Matrix masked(const Matrix& x, const std::vector<double>& mask) {
  Matrix y = x;
  const size_t h = x[0].size();
  for (size_t r = 0; r < x.size(); ++r)
    for (size_t c = 0; c < h; ++c) y[r][c] *= mask[r * h + c];
  return y;
}

// The model's logits [T·B, V] evaluated from the equations of reference §7.1–§7.4 with the masks
// the model is about to draw (read with peek_key before run()).
std::vector<double> hand_logits(RnnModel& model, const std::vector<std::vector<int64_t>>& ids,
                                const Matrix& hidden) {
  const RnnConfig& cfg = model.config();
  const bool train = model.training();
  const int64_t t_len = ids.size(), b = ids[0].size(), d = cfg.emsize, nh = cfg.nhid,
                v = cfg.vocabulary;
  auto mask = [&](RnnDropout which, double p, int64_t count) {
    return train ? mask_of(p, model.peek_key(which), count) : std::vector<double>(count, 1.0);
  };
  const std::vector<double> me = mask(RnnDropout::embedding, cfg.dropoute, v);
  const std::vector<double> mi = mask(RnnDropout::input, cfg.dropouti, b * d);
  const std::vector<double> mx = mask(RnnDropout::x, cfg.dropoutx, b * d);
  const std::vector<double> mh = mask(RnnDropout::h, cfg.dropouth, b * nh);
  const std::vector<double> mo = mask(RnnDropout::output, cfg.dropout, b * nh);
  const Matrix emb = as_matrix(model.encoder_weight().value());
  const Matrix w0 = as_matrix(model.w0().value());
  const Matrix probs = model.is_search() ? model.alpha_weights() : Matrix{};
  const RnnGenotype genotype = model.genotype();
  const int nodes = static_cast<int>(genotype.recurrent.size());
  std::vector<Matrix> ws;
  for (int i = 0; i < nodes; ++i) ws.push_back(as_matrix(model.w(i).value()));

  Matrix h = hidden;
  std::vector<double> logits;
  for (int64_t t = 0; t < t_len; ++t) {
    // x_t = embedding rows (row-dropped) ⊙ locked input mask ⊙ variational x mask.
    Matrix x(b, std::vector<double>(d));
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < d; ++c)
        x[r][c] = emb[ids[t][r]][c] * me[ids[t][r]] * mi[r * d + c] * mx[r * d + c];
    Matrix xh(b, std::vector<double>(d + nh));
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < d + nh; ++c)
        xh[r][c] = c < d ? x[r][c] : h[r][c - d] * mh[r * nh + c - d];
    const Matrix ch0 = times(xh, w0);
    Matrix s0(b, std::vector<double>(nh));
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < nh; ++c)
        s0[r][c] = h[r][c] + sigmoid(ch0[r][c]) * (std::tanh(ch0[r][nh + c]) - h[r][c]);
    if (model.is_search()) batch_norm(s0, train);
    std::vector<Matrix> states{s0};
    int offset = 0;
    for (int i = 0; i < nodes; ++i) {
      Matrix s(b, std::vector<double>(nh, 0.0));
      auto add_edge = [&](int pred, const std::vector<double>& weight_of_activation) {
        const Matrix ch = times(masked(states[pred], mh), ws[i]);
        for (int64_t r = 0; r < b; ++r)
          for (int64_t c = 0; c < nh; ++c) {
            const double gate = sigmoid(ch[r][c]), prev = states[pred][r][c];
            for (int k = 1; k < 5; ++k)
              s[r][c] += weight_of_activation[k] *
                         (prev + gate * (activation(rnn_primitives()[k], ch[r][nh + c]) - prev));
          }
      };
      if (model.is_search()) {
        for (int j = 0; j <= i; ++j) add_edge(j, probs[offset + j]);
        batch_norm(s, train);
      } else {
        const auto& [name, pred] = genotype.recurrent[i];
        std::vector<double> one_hot(5, 0.0);
        for (int k = 1; k < 5; ++k) one_hot[k] = rnn_primitives()[k] == name ? 1.0 : 0.0;
        add_edge(pred, one_hot);
      }
      offset += i + 1;
      states.push_back(s);
    }
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < nh; ++c) {
        h[r][c] = 0;
        for (int node : genotype.concat) h[r][c] += states[node][r][c] / genotype.concat.size();
      }
    // Decoder: tied weights, on the output-dropped state.
    const std::vector<double> bias = model.weight_store().parameter("decoder.bias").value().to_vector<double>();
    for (int64_t r = 0; r < b; ++r)
      for (int64_t w = 0; w < v; ++w) {
        double z = bias[w];
        for (int64_t c = 0; c < nh; ++c) z += h[r][c] * mo[r * nh + c] * emb[w][c];
        logits.push_back(z);
      }
  }
  return logits;
}

// Token ids [T, B] and a hidden state with non-trivial values.
struct TinyBatch {
  std::vector<std::vector<int64_t>> ids;
  Tensor input;
  Matrix hidden;
  Tensor hidden_tensor;
};

TinyBatch tiny_batch(int64_t t_len, int64_t b, int64_t v, int64_t nh) {
  TinyBatch batch;
  std::vector<int64_t> flat;
  for (int64_t t = 0; t < t_len; ++t) {
    batch.ids.emplace_back();
    for (int64_t r = 0; r < b; ++r) {
      const int64_t id = (3 * t + 5 * r + 1) % v;
      batch.ids.back().push_back(id);
      flat.push_back(id);
    }
  }
  batch.input = Tensor::from_vector(flat, {t_len, b});
  batch.hidden_tensor = Tensor::empty({b, nh}, DType::f64);
  fill_uniform(batch.hidden_tensor, -0.8, 0.8, 77);
  batch.hidden = as_matrix(batch.hidden_tensor);
  return batch;
}

// Scales the tiny model's weights up from ±0.04 so the nonlinearities are exercised.
void widen(ParameterStore& store) {
  Tensor w = store.weights();
  fill_uniform(w, -0.9, 0.9, 5);
}

void expect_logits_match(RnnModel& model, const TinyBatch& batch) {
  const std::vector<double> want = hand_logits(model, batch.ids, batch.hidden);
  const RnnForward f = model.run(batch.input, batch.hidden_tensor);
  const std::vector<double> got = f.logits.value().to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-10) << "logit " << i;
}

TEST(RnnModel, ParameterCountAtReferenceSizes) {
  // Reference §7.6: 3,000,000 embedding + 10,000 bias + 360,000 W0 + 1,440,000 W1..8.
  ParameterStore weights(1), alphas(2);
  RnnModel search(RnnConfig{}, weights, alphas);
  EXPECT_EQ(search.parameter_count(), 4810000);
  EXPECT_EQ(weights.num_parameters(), 4810000);
  EXPECT_EQ(alphas.num_parameters(), 36 * 5);
  const auto named = weights.named_parameters();
  ASSERT_EQ(named.size(), 11u);
  EXPECT_EQ(named[0].first, "encoder.weight");
  EXPECT_EQ(named[1].first, "rnns.0._W0");
  EXPECT_EQ(named[1].second.shape(), Shape({600, 600}));
  EXPECT_EQ(named[9].first, "rnns.0._Ws.7");
  EXPECT_EQ(named[10].first, "decoder.bias");
  EXPECT_TRUE(weights.contains("rnns.0.bn.running_mean"));

  // Derived DARTS_V2 at nhid 850 (reference §7.7): the paper's 23M.
  ParameterStore derived_weights(1);
  RnnConfig big;
  big.emsize = big.nhid = 850;
  RnnModel derived(big, derived_weights, published_rnn_genotype("DARTS_V2"));
  EXPECT_EQ(derived.parameter_count(), 8500000 + 10000 + 1700 * 1700 + 8 * 850 * 1700);
  EXPECT_FALSE(derived_weights.contains("rnns.0.bn.running_mean"));  // no BN when derived

  // ENAS has one W per node: 11 of them.
  ParameterStore enas_weights(1);
  RnnModel enas(big, enas_weights, published_rnn_genotype("ENAS"));
  EXPECT_EQ(enas.parameter_count(), 8500000 + 10000 + 1700 * 1700 + 11 * 850 * 1700);
  EXPECT_TRUE(enas_weights.contains("rnns.0._Ws.10"));

  // WikiText-2 at the preset's sizes (33,278 words, nhid 700): the paper's 33M.
  ParameterStore wt2_weights(1);
  RnnConfig wt2;
  wt2.vocabulary = 33278;
  wt2.emsize = wt2.nhid = 700;
  RnnModel wt2_model(wt2, wt2_weights, published_rnn_genotype("DARTS_V2"));
  EXPECT_EQ(wt2_model.parameter_count(), 33127878);
}

TEST(RnnModel, AlphaShapeAndInitialisation) {
  ParameterStore weights(1), alphas(2);
  RnnModel model(tiny_config(), weights, alphas);
  EXPECT_EQ(model.alpha().shape(), Shape({36, 5}));
  const std::vector<float> a = model.alpha().value().to_vector<float>();
  double max_abs = 0;
  for (float x : a) max_abs = std::max(max_abs, std::abs(static_cast<double>(x)));
  EXPECT_GT(max_abs, 0);
  EXPECT_LT(max_abs, 6e-3);  // 1e-3·N(0, 1)
  EXPECT_THROW(RnnModel(tiny_config(), weights, weights), Error);
  RnnConfig untied = tiny_config();
  untied.emsize = 4;
  ParameterStore w2(1), a2(2);
  EXPECT_THROW(RnnModel(untied, w2, a2), Error);
}

TEST(RnnModel, SearchCellMatchesTheEquationsInTraining) {
  ParameterStore weights(1, DType::f64), alphas(2, DType::f64);
  RnnModel model(tiny_config(), weights, alphas);
  widen(weights);
  fill_uniform(model.alpha().value(), -2, 2, 9);  // unequal mixing weights
  const TinyBatch batch = tiny_batch(3, 4, 7, 3);
  expect_logits_match(model, batch);
  expect_logits_match(model, batch);  // a second call draws fresh masks, still consistent
}

TEST(RnnModel, SearchCellMatchesTheEquationsInEval) {
  ParameterStore weights(1, DType::f64), alphas(2, DType::f64);
  RnnModel model(tiny_config(), weights, alphas);
  widen(weights);
  fill_uniform(model.alpha().value(), -2, 2, 9);
  model.eval();
  expect_logits_match(model, tiny_batch(2, 3, 7, 3));
}

TEST(RnnModel, DerivedCellMatchesTheEquations) {
  // ENAS: 11 nodes, the output averages a subset of them.
  for (const char* name : {"DARTS_V2", "ENAS"}) {
    SCOPED_TRACE(name);
    ParameterStore weights(1, DType::f64);
    RnnModel model(tiny_config(), weights, published_rnn_genotype(name));
    widen(weights);
    const TinyBatch batch = tiny_batch(3, 2, 7, 3);
    expect_logits_match(model, batch);
    model.eval();
    expect_logits_match(model, batch);
  }
}

TEST(RnnModel, LockedMasksAreReusedAcrossTimeAndRedrawnPerCall) {
  ParameterStore weights(1, DType::f64), alphas(2, DType::f64);
  RnnConfig cfg = tiny_config(11, 5);
  cfg.dropout = 0.5;
  RnnModel model(cfg, weights, alphas);
  widen(weights);
  const TinyBatch batch = tiny_batch(6, 4, 11, 5);
  auto zero_pattern = [&](const RnnForward& f, int64_t t) {
    const std::vector<double> raw = f.raw_output.value().select(0, t).to_vector<double>();
    const std::vector<double> out = f.output.value().select(0, t).to_vector<double>();
    std::vector<bool> dropped;
    for (size_t i = 0; i < raw.size(); ++i) {
      EXPECT_NE(raw[i], 0.0);
      dropped.push_back(out[i] == 0.0);
      if (out[i] != 0.0) {
        EXPECT_NEAR(out[i], raw[i] * 2.0, 1e-12);  // kept: scaled by 1/(1 − p)
      }
    }
    return dropped;
  };
  const RnnForward first = model.run(batch.input, batch.hidden_tensor);
  const std::vector<bool> pattern = zero_pattern(first, 0);
  EXPECT_NE(std::count(pattern.begin(), pattern.end(), true), 0);
  for (int64_t t = 1; t < 6; ++t) EXPECT_EQ(zero_pattern(first, t), pattern) << "step " << t;
  const RnnForward second = model.run(batch.input, batch.hidden_tensor);
  EXPECT_NE(zero_pattern(second, 0), pattern);  // 20 units: a repeat is 2^-20 unlikely
  // The hidden state handed on is the last raw output, cut from the graph.
  EXPECT_EQ(second.hidden.to_vector<double>(),
            second.raw_output.value().select(0, 5).contiguous().to_vector<double>());
}

// The tiny search model, or the derived DARTS_V1 cell (α's store left empty).
std::unique_ptr<RnnModel> tiny_model(bool search, ParameterStore& weights, ParameterStore& alphas) {
  if (search) return std::make_unique<RnnModel>(tiny_config(), weights, alphas);
  return std::make_unique<RnnModel>(tiny_config(), weights, published_rnn_genotype("DARTS_V1"));
}

TEST(RnnModel, GradientsMatchFiniteDifferences) {
  for (bool search : {true, false}) {
    ParameterStore weights(1, DType::f64), alphas(2, DType::f64);
    std::unique_ptr<RnnModel> model = tiny_model(search, weights, alphas);
    widen(weights);
    if (search) fill_uniform(model->alpha().value(), -1, 1, 9);
    const TinyBatch batch = tiny_batch(3, 3, 7, 3);
    std::vector<int64_t> next_ids;
    for (int64_t i = 0; i < 9; ++i) next_ids.push_back((i * 4 + 2) % 7);
    const Tensor targets = Tensor::from_vector(next_ids, {9});
    const auto offsets = model->rng_offsets();
    auto loss = [&]() {
      model->set_rng_offsets(offsets);  // the same masks at every evaluation
      return rnn_loss(model->run(batch.input, batch.hidden_tensor), targets, 2.0, 1.0).total;
    };
    std::vector<Variable> probes;
    for (const auto& [name, v] : weights.named_parameters()) probes.push_back(v);
    if (search) probes.push_back(model->alpha());
    test::expect_gradients_match(loss, probes, 1e-6, 12);
  }
}

// An eager recurrent step keeps the GPU busy only if its passes never wait for the host
// (runtime/host_sync_guard.h): forward with every dropout on, the loss and backward, search and
// derived. (Failed with the embedding dropout's all-ones tensors filled on the host.)
TEST(RnnModel, PassesWaitForNothingOnTheHost) {
  for (bool search : {true, false}) {
    ParameterStore weights(1, DType::f64), alphas(2, DType::f64);
    std::unique_ptr<RnnModel> model = tiny_model(search, weights, alphas);
    const TinyBatch batch = tiny_batch(3, 3, 7, 3);
    const Tensor targets = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6, 0, 1, 2}, {9});
    NoHostSyncScope eager_step("an eager recurrent step");
    EXPECT_NO_THROW(backward(rnn_loss(model->run(batch.input, batch.hidden_tensor), targets, 2.0,
                                      1.0).total))
        << (search ? "search" : "derived");
  }
}

TEST(RnnModel, GenotypeFollowsAlpha) {
  ParameterStore weights(1), alphas(2);
  RnnModel model(tiny_config(), weights, alphas);
  // α favouring DARTS_V2's edges: node i's row for its predecessor gets a large logit on its
  // activation (rows of node i start at i(i+1)/2).
  const RnnGenotype v2 = published_rnn_genotype("DARTS_V2");
  std::vector<float> a(36 * 5, 0.0f);
  for (int i = 0; i < kRnnNodes; ++i) {
    const auto& [name, pred] = v2.recurrent[i];
    const int column = static_cast<int>(std::find(rnn_primitives().begin(), rnn_primitives().end(),
                                                  name) - rnn_primitives().begin());
    a[(i * (i + 1) / 2 + pred) * 5 + column] = 3.0f;
    a[(i * (i + 1) / 2) * 5 + 0] = 4.0f;  // `none` never wins, whatever its weight
  }
  model.alpha().value().copy_from(Tensor::from_vector(a, {36, 5}));
  EXPECT_EQ(model.genotype(), v2);
  EXPECT_EQ(to_text(model.genotype()), to_text(v2));
}

}  // namespace
}  // namespace autonet::darts
