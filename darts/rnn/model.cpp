// Recurrent DARTS models (darts/rnn/model.h). The cell follows reference §7.2–§7.3 line by line;
// where the code computes something once instead of per step it says why the result is the same.
#include "darts/rnn/model.h"

#include <cmath>
#include <string>

#include "autograd/functions_rnn_cell.h"
#include "autograd/state_stack.h"
#include "darts/primitives.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"

namespace autonet::darts {

void RnnConfig::validate() const {
  AN_CHECK(vocabulary >= 1) << "RnnConfig: vocabulary must be ≥ 1, got " << vocabulary;
  AN_CHECK(nhid >= 1) << "RnnConfig: nhid must be ≥ 1, got " << nhid;
  AN_CHECK(emsize == nhid) << "RnnConfig: emsize (" << emsize << ") must equal nhid (" << nhid
                           << "): the decoder's weight is tied to the embedding";
  for (const auto& [name, p] : {std::pair<const char*, double>{"dropout", dropout},
                                {"dropouth", dropouth},
                                {"dropoutx", dropoutx},
                                {"dropouti", dropouti},
                                {"dropoute", dropoute}})
    AN_CHECK(p >= 0.0 && p < 1.0) << "RnnConfig: " << name << " must lie in [0, 1), got " << p;
  AN_CHECK(init_range > 0) << "RnnConfig: init_range must be > 0, got " << init_range;
}

Variable leading_rows(const Variable& x, int64_t begin, int64_t end) {
  AN_CHECK(x.dim() >= 1 && 0 <= begin && begin <= end && end <= x.size(0))
      << "leading_rows [" << begin << ", " << end << ") of " << x.value().describe();
  const Tensor y = x.value().slice(0, begin, end);
  const TensorSpec spec = TensorSpec::of(x.value());
  return make_result("leading_rows", y, {x}, [spec, begin, end](const Tensor& dy,
                                                                const SlotList& in) {
    Tensor grad = accumulate_target(*in[0], spec);
    if (!grad.defined()) return;
    Tensor rows = grad.slice(0, begin, end);
    axpby(1.0, dy.contiguous(), 1.0, rows);
  });
}

namespace {

constexpr uint32_t kDropoutStreamBase = 0x524e4e00;  // "RNN\0": apart from other modules' streams

// states[begin, end), [B, H] each → [J, B, H]: each state's gradient from the stack is added in
// place (a state feeds the stacks of every later node).
Variable stack_states(const std::vector<Variable>& states, int64_t begin, int64_t end) {
  const std::vector<Variable> rows(states.begin() + begin, states.begin() + end);
  if (rows.size() == 1) return view(rows[0], {1, rows[0].size(0), rows[0].size(1)});
  return stack(rows);
}

Variable dropout_if(bool training, const Variable& x, double p, const PhiloxKey& key,
                    int64_t period) {
  return training && p > 0 ? dropout(x, p, key, period) : x;
}

}  // namespace

RnnModel::RnnModel(const RnnConfig& config, ParameterStore& weights, ParameterStore& alphas)
    : Module(""), config_(config), weights_(weights), search_(true) {
  AN_CHECK(&weights != &alphas) << "RnnModel: weights and α need distinct stores";
  build(weights);
  // model_search.py: α = 1e-3·randn(36, 5).
  alpha_ = alphas.add_parameter("weights", {kRnnEdges, static_cast<int64_t>(rnn_primitives().size())},
                                Init::normal(0.0, 1e-3));
  bn_ = std::make_unique<BatchNorm1d>(weights, "rnns.0.bn", config.nhid, /*affine=*/false);
  register_child(*bn_);
}

RnnModel::RnnModel(const RnnConfig& config, ParameterStore& weights, const RnnGenotype& genotype)
    : Module(""), config_(config), weights_(weights), search_(false), genotype_(genotype) {
  validate(genotype);
  nodes_ = static_cast<int>(genotype.recurrent.size());  // ENAS has 11, the DARTS cells 8
  for (const OpEdge& e : genotype.recurrent) rnn_activation_from_name(e.first);  // no `none`
  build(weights);
}

void RnnModel::build(ParameterStore& weights) {
  config_.validate();
  const RnnConfig& c = config_;
  const Init init = Init::uniform(-c.init_range, c.init_range);
  const int64_t before = weights.num_parameters();
  encoder_ = weights.add_parameter("encoder.weight", {c.vocabulary, c.emsize}, init);
  w0_ = weights.add_parameter("rnns.0._W0", {c.emsize + c.nhid, 2 * c.nhid}, init);
  for (int i = 0; i < nodes_; ++i)
    ws_.push_back(
        weights.add_parameter("rnns.0._Ws." + std::to_string(i), {c.nhid, 2 * c.nhid}, init));
  decoder_bias_ = weights.add_parameter("decoder.bias", {c.vocabulary}, Init::zeros());
  parameter_count_ = weights.num_parameters() - before;
  for (int d = 0; d < kRnnDropouts; ++d)
    generators_.emplace_back(c.seed, kDropoutStreamBase + static_cast<uint32_t>(d));
}

Tensor RnnModel::initial_hidden(int64_t batch) const {
  return Tensor::zeros({batch, config_.nhid}, weights_.dtype(), weights_.device());
}

std::array<uint64_t, kRnnDropouts> RnnModel::rng_offsets() const {
  std::array<uint64_t, kRnnDropouts> offsets{};
  for (int d = 0; d < kRnnDropouts; ++d) offsets[d] = generators_[d].offset();
  return offsets;
}

void RnnModel::set_rng_offsets(const std::array<uint64_t, kRnnDropouts>& offsets) {
  for (int d = 0; d < kRnnDropouts; ++d) generators_[d].set_offset(offsets[d]);
}

void RnnModel::anchor_rng(const uint64_t* bases) {
  for (int d = 0; d < kRnnDropouts; ++d) generators_[d].anchor(bases + d);
}

void RnnModel::unanchor_rng() {
  for (PhiloxGenerator& g : generators_) g.unanchor();
}

PhiloxKey RnnModel::peek_key(RnnDropout which) const {
  PhiloxGenerator copy = generators_[static_cast<int>(which)];
  return copy.next(1);
}

std::vector<std::vector<double>> RnnModel::alpha_weights() const {
  AN_CHECK(search_) << "alpha_weights: a derived RNN model has no α";
  const int64_t rows = alpha_.size(0), cols = alpha_.size(1);
  const std::vector<double> a = alpha_.value().to(Device::cpu()).to(DType::f64).to_vector<double>();
  std::vector<std::vector<double>> w(rows, std::vector<double>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    double top = a[r * cols];
    for (int64_t k = 1; k < cols; ++k) top = std::max(top, a[r * cols + k]);
    double total = 0;
    for (int64_t k = 0; k < cols; ++k) total += w[r][k] = std::exp(a[r * cols + k] - top);
    for (int64_t k = 0; k < cols; ++k) w[r][k] /= total;
  }
  return w;
}

RnnGenotype RnnModel::genotype() const {
  return search_ ? derive_rnn_genotype(alpha_weights(), kRnnNodes) : genotype_;
}

// embedded_dropout: whole rows of the embedding matrix are dropped (scaled by 1/(1 − p)), so a
// word type is dropped at every position of the segment. Only the looked-up rows matter: the
// row mask [V, 1] is gathered at the ids and spread over the D columns by an outer product.
Variable RnnModel::embed(const Tensor& input) {
  const int64_t t = input.size(0), b = input.size(1), d = config_.emsize;
  Variable emb = view(embedding(encoder_, input), {t * b, d});
  if (training() && config_.dropoute > 0) {
    const int64_t v = config_.vocabulary;
    // Ones filled on the device: a host fill would make every step wait for the GPU.
    auto ones = [&](const Shape& shape) {
      Tensor t = Tensor::empty(shape, weights_.dtype(), weights_.device());
      fill(t, 1.0);
      return t;
    };
    Tensor row_mask = Tensor::empty({v, 1}, weights_.dtype(), weights_.device());
    DropoutParams p;
    p.p = config_.dropoute;
    p.key = generators_[static_cast<int>(RnnDropout::embedding)].next(v);
    dropout_forward(ones({v, 1}), row_mask, p);
    const Variable token_mask = view(embedding(Variable(row_mask), input), {t * b, 1});
    const Variable spread = matmul(token_mask, Variable(ones({1, d})));
    emb = mul(emb, spread);
  }
  return view(emb, {t, b, d});
}

Variable RnnModel::cell_step(const Variable& xw, const Variable& h, const PhiloxKey* h_mask,
                             const std::vector<Variable>& mix_weights) {
  const int64_t b = h.size(0), nh = config_.nhid;
  const int64_t period = b * nh;
  const bool masked = h_mask != nullptr;
  // [c₀ | h̃₀] = x·W0[:emsize] (precomputed for all steps) + (h ⊙ m_h)·W0[emsize:].
  const Variable w0_h = leading_rows(w0_, config_.emsize, config_.emsize + nh);
  const Variable hm = masked ? dropout(h, config_.dropouth, *h_mask, period) : h;
  Variable s0 = rnn_node(add(xw, matmul(hm, w0_h)), h, RnnActivation::tanh);
  if (search_) s0 = bn_->forward(s0);

  if (search_) return mean(search_nodes(s0, h_mask, mix_weights), 0);

  std::vector<Variable> states{s0};
  for (int i = 0; i < nodes_; ++i) {
    const auto& [act_name, pred] = genotype_.recurrent[i];
    const Variable& prev = states.at(pred);
    const Variable prev_m = masked ? dropout(prev, config_.dropouth, *h_mask, period) : prev;
    states.push_back(
        rnn_node(matmul(prev_m, ws_[i]), prev, rnn_activation_from_name(act_name)));
  }
  std::vector<Variable> concat_states;
  for (int c : genotype_.concat) concat_states.push_back(states.at(c));
  return mean(stack_states(concat_states, 0, static_cast<int64_t>(concat_states.size())), 0);
}

Variable RnnModel::search_nodes(const Variable& s0, const PhiloxKey* h_mask,
                                const std::vector<Variable>& mix_weights) {
  const int64_t b = s0.size(0), nh = config_.nhid;
  DropoutParams locked;  // the GEMMs' inputs: the states under the locked dropout, or themselves
  if (h_mask && config_.dropouth > 0) locked = {config_.dropouth, *h_mask, b * nh};
  // Each state written once into its row; a node's inputs are views of the leading rows.
  StateStack states(nodes_ + 1, s0.value(), locked);
  states.push(s0);
  for (int i = 0; i < nodes_; ++i) {
    // Node i+1 reads s_0..s_i through the one W_{i+1}: a single [J·B, H]·[H, 2H] GEMM.
    const int64_t j = i + 1;
    Variable prev, prev_m;  // [J, B, H], and under the locked dropout when masked
    if (locked.p > 0) {
      const std::vector<Variable> both = states.leading_with_dropout(j);
      prev = both[0], prev_m = both[1];
    } else {
      prev = prev_m = states.rows(0, j);
    }
    const Variable ch = view(matmul(view(prev_m, {j * b, nh}), ws_[i]), {j, b, 2 * nh});
    // The mix and the cell's (affine-free) BN as one node: one launch forward on a GPU.
    const Variable s = rnn_mix_batch_norm(ch, prev, mix_weights[i], bn_->running_mean.value(),
                                          bn_->running_var.value(), bn_->params());
    states.push(s, /*with_dropout=*/i + 1 < nodes_);  // the last state feeds no node's GEMM
  }
  return states.rows(1, nodes_ + 1);
}

RnnForward RnnModel::run(const Tensor& input, const Tensor& hidden) {
  AN_CHECK(input.dim() == 2 && input.dtype() == DType::i64)
      << "RnnModel::run: input must be i64 [T, B] token ids, got " << input.describe();
  const int64_t t_len = input.size(0), b = input.size(1), nh = config_.nhid,
                d = config_.emsize;
  AN_CHECK(t_len >= 1 && b >= 1) << "RnnModel::run: empty input " << input.describe();
  AN_CHECK(hidden.defined() && hidden.shape() == Shape({b, nh}))
      << "RnnModel::run: hidden must be [" << b << ", " << nh << "], got "
      << (hidden.defined() ? hidden.describe() : std::string("undefined"));
  const bool train = training();
  auto key = [&](RnnDropout which, int64_t count) {
    return generators_[static_cast<int>(which)].next(static_cast<uint64_t>(count));
  };

  // Embedding → embedding-row dropout → locked dropout over time (one [B, D] mask).
  Variable x = embed(input);
  if (train && config_.dropouti > 0) x = dropout(x, config_.dropouti, key(RnnDropout::input, b * d), b * d);

  // The x mask is the same at every step, so x ⊙ m_x and its W0 product are formed for all T
  // steps at once: one [T·B, D]·[D, 2H] GEMM instead of T small ones (same sums per element).
  const PhiloxKey x_key = train ? key(RnnDropout::x, b * d) : PhiloxKey{};
  const PhiloxKey h_key = train ? key(RnnDropout::h, b * nh) : PhiloxKey{};
  const Variable xm = dropout_if(train, x, config_.dropoutx, x_key, b * d);
  const Variable xw = view(matmul(view(xm, {t_len * b, d}), leading_rows(w0_, 0, d)),
                           {t_len, b, 2 * nh});

  std::vector<Variable> mix_weights;
  if (search_) {
    // softmax(α) once per call (the reference takes it once per step: the same values).
    const int64_t k = alpha_.size(1);
    const Variable probs = view(softmax(alpha_), {1, 1, kRnnEdges, k});
    int64_t offset = 0;
    for (int i = 0; i < kRnnNodes; ++i) {
      Slice2dParams rows;
      rows.offset_h = offset;
      rows.offset_w = 1;  // drop `none`: it contributes nothing
      rows.out_h = i + 1;
      rows.out_w = k - 1;
      mix_weights.push_back(view(slice2d(probs, rows), {i + 1, k - 1}));
      offset += i + 1;
    }
  }

  const bool use_h_mask = train && config_.dropouth > 0;
  Variable h(hidden);
  std::vector<Variable> outputs;
  outputs.reserve(t_len);
  for (int64_t t = 0; t < t_len; ++t) {
    h = cell_step(select(xw, t), h, use_h_mask ? &h_key : nullptr, mix_weights);
    outputs.push_back(h);
  }

  RnnForward f;
  f.raw_output = stack_states(outputs, 0, t_len);  // [T, B, H]
  f.output = dropout_if(train, f.raw_output, config_.dropout, key(RnnDropout::output, b * nh),
                        b * nh);
  f.logits = linear(view(f.output, {t_len * b, nh}), encoder_, decoder_bias_);
  f.hidden = h.value();
  return f;
}

RnnLoss rnn_loss(const RnnForward& f, const Tensor& targets, double ar_alpha, double tar_beta) {
  RnnLoss loss;
  loss.nll = cross_entropy(f.logits, targets);
  loss.total = loss.nll;
  if (ar_alpha != 0) loss.total = add(loss.total, scale(mean(mul(f.output, f.output)), ar_alpha));
  const int64_t t_len = f.raw_output.size(0);
  if (tar_beta != 0 && t_len > 1) {
    const Variable diff = sub(leading_rows(f.raw_output, 1, t_len),
                              leading_rows(f.raw_output, 0, t_len - 1));
    loss.total = add(loss.total, scale(mean(mul(diff, diff)), tar_beta));
  }
  return loss;
}

}  // namespace autonet::darts
