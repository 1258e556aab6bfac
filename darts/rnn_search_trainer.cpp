// Recurrent DARTS search and derived-cell training (darts/rnn_search_trainer.h).
#include "darts/rnn_search_trainer.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/optimizer.h"
#include "darts/architect.h"
#include "darts/cell_layout.h"
#include "darts/report.h"
#include "darts/rnn_architect.h"
#include "darts/rnn_model.h"
#include "darts/run_folder.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "runtime/error.h"
#include "runtime/philox.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

#define AN_RNN_CONFIG_FIELDS(X)                                                                 \
  X(dataset) X(data_dir) X(train_tokens) X(valid_tokens) X(emsize) X(nhid) X(dropout)          \
  X(dropouth) X(dropoutx) X(dropouti) X(dropoute) X(genotype) X(epochs) X(batch_size)          \
  X(eval_batch_size) X(test_batch_size) X(bptt) X(learning_rate) X(weight_decay) X(grad_clip)  \
  X(ar_alpha) X(tar_beta) X(nonmono) X(unrolled) X(arch_learning_rate) X(arch_weight_decay)    \
  X(seed) X(device) X(log_every) X(max_steps)

AN_DEFINE_CONFIG_JSON(RnnRunConfig, AN_RNN_CONFIG_FIELDS)

RnnRunConfig rnn_train_defaults() {
  RnnRunConfig c;
  c.emsize = c.nhid = 850;
  c.batch_size = 64;
  c.weight_decay = 8e-7;
  c.dropoute = 0.1;
  c.seed = 1267;
  c.epochs = 8000;
  return c;
}

RnnWeightStep rnn_weight_step(RnnModel& model, ParameterStore* alphas, Optimizer& optimizer,
                              const RnnSegment& segment, double ar_alpha, double tar_beta,
                              double grad_clip) {
  std::optional<ParameterGradScope> no_alpha_grads;
  if (alphas) no_alpha_grads.emplace(*alphas, false);
  ParameterStore& weights = model.weight_store();
  weights.zero_grad();
  const RnnForward f = model.run(segment.input, segment.hidden);
  const RnnLoss loss = rnn_loss(f, segment.target, ar_alpha, tar_beta);
  RnnWeightStep s;
  s.nll = loss.nll.value().item();
  s.hidden = f.hidden;
  if (!std::isfinite(s.nll)) return s;
  backward(loss.total);
  Tensor grads = weights.grads();
  s.grad_norm = clip_grad_norm(grads, grad_clip);
  if (std::isfinite(s.grad_norm)) optimizer.step();
  return s;
}

bool asgd_switch_due(const std::vector<double>& history, double current, int64_t nonmono) {
  AN_CHECK(nonmono >= 1) << "asgd_switch_due: nonmono must be at least 1, got " << nonmono;
  const auto n = static_cast<int64_t>(history.size());
  return n > nonmono && current > *std::min_element(history.begin(), history.end() - nonmono);
}

void RnnRunConfig::validate(bool search) const {
  AN_CHECK(emsize == nhid) << "--emsize (" << emsize << ") must equal --nhid (" << nhid
                           << "): the decoder's weight is tied to the embedding";
  AN_CHECK(nhid >= 1) << "--nhid must be positive, got " << nhid;
  for (const auto& [flag, p] : {std::pair<const char*, double>{"--dropout", dropout},
                                {"--dropouth", dropouth},
                                {"--dropoutx", dropoutx},
                                {"--dropouti", dropouti},
                                {"--dropoute", dropoute}})
    AN_CHECK(p >= 0 && p < 1) << flag << " must be in [0, 1), got " << p;
  AN_CHECK(epochs >= 1) << "--epochs must be at least 1, got " << epochs;
  AN_CHECK(batch_size >= 1 && eval_batch_size >= 1 && test_batch_size >= 1)
      << "--batch-size, --eval-batch-size and --test-batch-size must be at least 1, got "
      << batch_size << ", " << eval_batch_size << ", " << test_batch_size;
  AN_CHECK(bptt >= 2) << "--bptt must be at least 2, got " << bptt;
  AN_CHECK(learning_rate > 0) << "--learning-rate must be positive, got " << learning_rate;
  AN_CHECK(weight_decay >= 0) << "--weight-decay must be non-negative, got " << weight_decay;
  AN_CHECK(grad_clip > 0) << "--grad-clip must be positive, got " << grad_clip;
  AN_CHECK(ar_alpha >= 0 && tar_beta >= 0)
      << "--ar-alpha and --tar-beta must be non-negative, got " << ar_alpha << ", " << tar_beta;
  AN_CHECK(nonmono >= 1) << "--nonmono must be at least 1, got " << nonmono;
  AN_CHECK(search || !unrolled)
      << "unrolled (second-order α steps) belongs to a search; a derived cell has no α";
  AN_CHECK(arch_learning_rate > 0) << "--arch-learning-rate must be positive, got "
                                   << arch_learning_rate;
  AN_CHECK(arch_weight_decay >= 0) << "--arch-weight-decay must be non-negative, got "
                                   << arch_weight_decay;
  AN_CHECK(train_tokens >= 0 && valid_tokens >= 0)
      << "--train-tokens and --valid-tokens must be non-negative";
  AN_CHECK(seed >= 0) << "--seed must be non-negative, got " << seed;
  AN_CHECK(log_every >= 0 && max_steps >= 0) << "--log-every and --max-steps must be ≥ 0";
  if (device != "auto") parse_device(device);
}

namespace {

// FNV-1a over the words in id order: a checkpoint only resumes on the vocabulary it was made with.
uint64_t vocabulary_fingerprint(const data::Dictionary& d) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < d.size(); ++i) {
    for (unsigned char c : d.word(i)) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  }
  return h;
}

Tensor first_tokens(const Tensor& split, int64_t n) {
  return n > 0 && n < split.numel() ? split.slice(0, 0, n) : split;
}

// batchify with a clear error when the split is too short for the batch size.
Tensor batchify_checked(const Tensor& tokens, int64_t batch, int64_t min_rows, const char* split,
                        const char* flag) {
  AN_CHECK(tokens.numel() > 0) << "the " << split << " split is empty";
  const int64_t rows = tokens.numel() / batch;
  AN_CHECK(rows >= min_rows) << flag << " " << batch << " leaves " << rows << " rows of the "
                             << split << " split (" << tokens.numel() << " tokens); at least "
                             << min_rows << " are needed: lower " << flag;
  return data::batchify(tokens, batch);
}

constexpr uint32_t kBpttStream = 0x42505454;  // "BPTT": the sequence-length draws

// A non-finite training loss of a derived-cell training: the one error that rolls back.
struct NonFiniteLoss {
  std::string message;
};

class RnnRun {
 public:
  RnnRun(const RnnRunConfig& config, const data::TextCorpus& corpus, Device device, bool search)
      : config_(config),
        search_(search),
        device_(device),
        corpus_name_(corpus.name),
        vocabulary_(corpus.dictionary.size()),
        fingerprint_(vocabulary_fingerprint(corpus.dictionary)),
        weights_(static_cast<uint64_t>(config.seed)),
        alphas_(static_cast<uint64_t>(config.seed) + 1),
        bptt_rng_(static_cast<uint64_t>(config.seed), kBpttStream) {
    config.validate(search);
    const int64_t b = config.batch_size;
    train_ = batchify_checked(first_tokens(corpus.train, config.train_tokens), b, 3, "train",
                              "--batch-size");
    const Tensor valid = first_tokens(corpus.valid, config.valid_tokens);
    if (search) search_data_ = batchify_checked(valid, b, 2, "valid", "--batch-size");
    valid_ = batchify_checked(valid, config.eval_batch_size, 2, "valid", "--eval-batch-size");
    if (!search)
      test_ = batchify_checked(first_tokens(corpus.test, config.valid_tokens),
                               config.test_batch_size, 2, "test", "--test-batch-size");

    RnnConfig m;
    m.vocabulary = vocabulary_;
    m.emsize = config.emsize;
    m.nhid = config.nhid;
    m.dropout = config.dropout;
    m.dropouth = config.dropouth;
    m.dropoutx = config.dropoutx;
    m.dropouti = config.dropouti;
    m.dropoute = config.dropoute;
    m.seed = static_cast<uint64_t>(config.seed);
    model_ = search ? std::make_unique<RnnModel>(m, weights_, alphas_)
                    : std::make_unique<RnnModel>(m, weights_, load_rnn_genotype(config.genotype));
    weights_.to(device_);
    alphas_.to(device_);
    make_sgd();
    if (search) {
      RnnArchitectConfig arch;
      arch.unrolled = config.unrolled;
      arch.learning_rate = config.arch_learning_rate;
      arch.weight_decay = config.arch_weight_decay;
      arch.grad_clip = config.grad_clip;
      architect_ = std::make_unique<RnnArchitect>(*model_, alphas_, arch);
    }
  }

  void make_sgd() {
    SgdOptions sgd;
    sgd.lr = config_.learning_rate;
    sgd.weight_decay = config_.weight_decay;
    optimizer_ = std::make_unique<Sgd>(weights_.weights(), weights_.grads(), sgd);
  }

  // train.py's switch: ASGD(lr, t0 = 0, lambd = 0, weight decay).
  void make_asgd() {
    AsgdOptions asgd;
    asgd.lr = config_.learning_rate;
    asgd.t0 = 0;
    asgd.lambd = 0;
    asgd.weight_decay = config_.weight_decay;
    optimizer_ = std::make_unique<Asgd>(weights_.weights(), weights_.grads(), asgd);
  }
  Asgd* asgd() const { return dynamic_cast<Asgd*>(optimizer_.get()); }

  json run_info() const {
    return {{"device", device_.str()},
            {"kind", search_ ? "rnn-search" : "rnn-train"},
            {"data", corpus_name_},
            {"vocabulary", vocabulary_},
            {"train_rows", train_.size(0)},
            {"parameters", model_->parameter_count()},
            {"param_size", format_param_size_mb(model_->parameter_count())}};
  }

  std::vector<NamedTensor> checkpoint_tensors() const {
    std::vector<NamedTensor> t = with_prefix("model.", named(weights_.named_tensors()));
    if (search_) {
      append(t, with_prefix("arch.", named(alphas_.named_tensors())));
      append(t, with_prefix("a_optimizer.", architect_->optimizer().state_tensors()));
    }
    append(t, with_prefix("w_optimizer.", optimizer_->state_tensors()));
    return t;
  }

  json state_json() const {
    json rng = json::array();
    for (uint64_t o : model_->rng_offsets()) rng.push_back(o);
    json s = {{"kind", search_ ? "rnn-search" : "rnn-train"},
              {"epoch", epoch_},
              {"global_step", global_step_},
              {"log_bytes", folder_->log_bytes()},
              {"vocabulary", vocabulary_},
              {"vocabulary_fingerprint", fingerprint_},
              {"dataset", corpus_name_},
              {"w_optimizer", optimizer_->state_json()},
              {"dropout_rng", rng},
              {"bptt_rng", bptt_rng_.offset()},
              {"best_valid_loss", best_loss_},
              {"best_epoch", best_epoch_},
              {"valid_history", valid_history_},
              {"first_valid_ppl", first_valid_ppl_}};
    if (search_) s["a_optimizer"] = architect_->optimizer().state_json();
    return s;
  }

  void save(const fs::path& path) {
    check_finite_weights(weights_.weights(), fmt::format("after epoch {}", epoch_));
    if (search_) check_finite_weights(alphas_.weights(), fmt::format("after epoch {}", epoch_));
    save_checkpoint(path, checkpoint_tensors(), state_json());
  }

  // Loads a checkpoint of this run (resume, or the NaN rollback to the best one). The optimizer
  // kind is read first: after the ASGD switch the checkpoint holds ASGD's average.
  // A rollback (restore_counters false) keeps the dropout and BPTT streams where they are.
  void load(const fs::path& path, bool restore_counters) {
    const json peek = read_checkpoint(path).state;
    AN_CHECK(peek.value("kind", "") == (search_ ? "rnn-search" : "rnn-train"))
        << path.string() << " is not a checkpoint of an " << (search_ ? "rnn-search" : "rnn-train")
        << " run";
    AN_CHECK(peek.value("vocabulary", int64_t{-1}) == vocabulary_ &&
             peek.value("vocabulary_fingerprint", uint64_t{0}) == fingerprint_)
        << "vocabulary mismatch: the checkpoint was made on " << peek.value("dataset", "?") << " with "
        << peek.value("vocabulary", int64_t{-1}) << " words, the data now give "
        << vocabulary_ << " words" << (peek.value("vocabulary", int64_t{-1}) == vocabulary_
                                           ? " (same count, different words)" : "");
    if (peek.at("w_optimizer").value("kind", "") == "asgd") make_asgd(); else make_sgd();
    json state = load_checkpoint(path, checkpoint_tensors());
    optimizer_->load_state_json(state.at("w_optimizer"));
    if (search_) architect_->optimizer().load_state_json(state.at("a_optimizer"));
    epoch_ = state.at("epoch").get<int64_t>();
    if (restore_counters) {
      std::array<uint64_t, kRnnDropouts> rng{};
      for (int d = 0; d < kRnnDropouts; ++d)
        rng[d] = state.at("dropout_rng").at(d).get<uint64_t>();
      model_->set_rng_offsets(rng);
      bptt_rng_.set_offset(state.at("bptt_rng").get<uint64_t>());
      global_step_ = state.at("global_step").get<int64_t>();
      best_loss_ = state.at("best_valid_loss").get<double>();
      best_epoch_ = state.at("best_epoch").get<int64_t>();
      valid_history_ = state.at("valid_history").get<std::vector<double>>();
      first_valid_ppl_ = state.at("first_valid_ppl").get<double>();
      folder_->truncate_log(state.at("log_bytes").get<uint64_t>());
    }
  }

  // Σ_segments mean NLL · length / rows, in eval mode (reference evaluate()).
  double evaluate(const Tensor& source, int64_t batch) {
    NoGradGuard no_grad;
    model_->eval();
    Tensor hidden = model_->initial_hidden(batch);
    double total = 0;
    const int64_t rows = source.size(0);
    for (int64_t i = 0; i < rows - 1; i += config_.bptt) {
      const data::TextBatch b = data::get_batch(source, i, config_.bptt);
      const RnnForward f = model_->run(b.input.contiguous().to(device_), hidden);
      const double nll = cross_entropy(f.logits, b.target.contiguous().to(device_)).value().item();
      total += nll * static_cast<double>(b.input.size(0));
      hidden = f.hidden;
    }
    model_->train();
    return total / static_cast<double>(rows);
  }

  // The step's sequence length: search int(bptt or bptt/2); training the normal-noise rule.
  int64_t draw_seq_len() {
    const PhiloxKey key = bptt_rng_.next(3);
    const double base = philox_uniform(key, 0) < 0.95 ? double(config_.bptt) : config_.bptt / 2.0;
    if (search_) return static_cast<int64_t>(base);
    const double u1 = philox_uniform(key, 1), u2 = philox_uniform(key, 2);
    const double normal = std::sqrt(-2 * std::log(1.0 - u1)) * std::cos(2 * M_PI * u2);
    const int64_t len = std::max<int64_t>(5, static_cast<int64_t>(base + 5 * normal));
    return std::min<int64_t>(len, config_.bptt + 20);
  }

  // One epoch over the train matrix; returns the token-weighted mean NLL. Throws on a NaN loss.
  double train_epoch(ProgressLine& progress, const RunOptions& options) {
    const int64_t b = config_.batch_size, rows = train_.size(0);
    Tensor hidden = model_->initial_hidden(b), hidden_valid = model_->initial_hidden(b);
    double loss_sum = 0;
    int64_t tokens = 0, step = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < rows - 2; ++step) {
      if (config_.max_steps > 0 && step >= config_.max_steps) break;
      const int64_t seq_len = draw_seq_len();
      const double lr = config_.learning_rate * static_cast<double>(seq_len) / config_.bptt;
      optimizer_->set_lr(lr);
      const std::string where = fmt::format("at epoch {} step {}", epoch_, step);
      const data::TextBatch t = data::get_batch(train_, i, seq_len);
      const Tensor input = t.input.contiguous().to(device_);
      const Tensor target = t.target.contiguous().to(device_);
      if (search_) {
        // α step (§7.8) on the validation window tied to this train position, from the α
        // stream's hidden state; the second order also reads the train segment and state.
        const int64_t search_rows = search_data_.size(0);
        const data::TextBatch v = data::get_batch(search_data_, i % (search_rows - 1), config_.bptt);
        const RnnSegment valid{v.input.contiguous().to(device_), v.target.contiguous().to(device_),
                               hidden_valid};
        const RnnArchStep a =
            architect_->step(dynamic_cast<const Sgd&>(*optimizer_), {input, target, hidden}, valid);
        check_finite(a.valid_loss, "validation loss of the α step", where);
        hidden_valid = a.hidden_valid;
      }
      if (options.poison_weights && options.poison_weights(epoch_, step)) {
        Tensor first = weights_.weights().slice(0, 0, 1);
        fill(first, std::nan(""));
      }
      const RnnWeightStep ws =
          rnn_weight_step(*model_, search_ ? &alphas_ : nullptr, *optimizer_,
                          {input, target, hidden}, config_.ar_alpha, config_.tar_beta,
                          config_.grad_clip);
      const double nll_value = ws.nll;
      if (!std::isfinite(ws.nll) && !search_)
        throw NonFiniteLoss{fmt::format("the training loss became {} {}", ws.nll, where)};
      check_finite(ws.nll, "training loss", where);
      if (!std::isfinite(ws.grad_norm) && !search_)
        throw NonFiniteLoss{
            fmt::format("the weights' gradient norm became {} {}", ws.grad_norm, where)};
      check_finite(ws.grad_norm, "weights' gradient norm", where);
      hidden = ws.hidden;
      const int64_t n = t.target.numel();
      loss_sum += nll_value * static_cast<double>(n);
      tokens += n;
      ++global_step_;
      i += seq_len;
      const double mean = loss_sum / static_cast<double>(tokens);
      const double tok_s = tokens / std::max(seconds_since(start), 1e-9);
      progress.update(fmt::format("epoch {}/{}  step {}  row {}/{}  loss {:.4f}  ppl {:.1f}  {:.0f} tok/s",
                                  epoch_ + 1, config_.epochs, step + 1, std::min(i, rows), rows,
                                  mean, std::exp(mean), tok_s));
      if (config_.log_every > 0 && global_step_ % config_.log_every == 0)
        folder_->append_log({{"kind", "step"},
                             {"epoch", epoch_},
                             {"step", global_step_},
                             {"row", i},
                             {"rows", rows},
                             {"loss", mean},
                             {"ppl", std::exp(mean)},
                             {"lr", lr},
                             {"tokens_per_s", rounded(tok_s, 1)}});
    }
    return tokens ? loss_sum / static_cast<double>(tokens) : 0.0;
  }

  void write_run_report() {
    write_report(*folder_, fmt::format("{} — {}", search_ ? "Recurrent DARTS search"
                                                          : "Recurrent cell training",
                                       folder_->dir().filename().string()));
  }

  void write_genotype_files() {
    const RnnGenotype g = model_->genotype();
    folder_->write_file("genotype.txt", to_text(g) + "\n");
    folder_->write_file("genotype.json", to_json(g).dump(2) + "\n");
    write_drawing(to_dot(g), folder_->path("recurrent").string());
  }

  RnnOutcome run(const RunOptions& options);

  RnnRunConfig config_;
  bool search_;
  Device device_;
  std::string corpus_name_;
  int64_t vocabulary_;
  uint64_t fingerprint_;
  std::optional<RunFolder> folder_;
  ParameterStore weights_, alphas_;
  std::unique_ptr<RnnModel> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<RnnArchitect> architect_;
  PhiloxGenerator bptt_rng_;
  Tensor train_, search_data_, valid_, test_;

  int64_t epoch_ = 0, global_step_ = 0, best_epoch_ = -1;
  double best_loss_ = 1e300, first_valid_ppl_ = 0;
  std::vector<double> valid_history_;  // train.py's best_val_loss list (SGD epochs only)
};

RnnOutcome RnnRun::run(const RunOptions& options) {
  ProgressLine progress(options.progress);
  int64_t session_epochs = 0, rollbacks = 0;
  const fs::path best_path = folder_->path("best.safetensors");
  progress.update(fmt::format("{} model: {} parameters (param size = {}), {} train rows of {}",
                              search_ ? "search" : "derived", model_->parameter_count(),
                              format_param_size_mb(model_->parameter_count()), train_.size(0),
                              config_.batch_size),
                  true);
  progress.finish();
  while (epoch_ < config_.epochs) {
    if (options.stop_after_epochs >= 0 && session_epochs >= options.stop_after_epochs) break;
    const auto epoch_start = std::chrono::steady_clock::now();
    const std::string genotype_at_start = to_text(model_->genotype());
    model_->train();
    double train_loss;
    try {
      train_loss = train_epoch(progress, options);
    } catch (const NonFiniteLoss& e) {
      // train.py: a NaN loss rolls back to the last saved (best) model and its optimizer state.
      AN_CHECK(fs::exists(best_path))
          << e.message << " before any checkpoint was saved; stopping (nothing to roll back to)";
      AN_CHECK(++rollbacks <= 10) << e.message << "; stopping after 10 rollbacks in this session "
                                  << "(the checkpoints are kept as they were)";
      progress.finish();
      fmt::print(stderr, "autonet: {}; rolling back to {}\n", e.message, best_path.string());
      load(best_path, false);
      folder_->append_log({{"kind", "rollback"}, {"epoch", epoch_}, {"reason", e.message}});
      continue;
    }

    double valid_loss;
    bool switched = false;
    const bool averaged = asgd() != nullptr;
    if (averaged) {
      AveragedWeights swap(*asgd());
      valid_loss = evaluate(valid_, config_.eval_batch_size);
      check_finite(valid_loss, "validation loss", fmt::format("after epoch {}", epoch_));
      if (valid_loss < best_loss_) {
        best_loss_ = valid_loss;
        best_epoch_ = epoch_;
        ++epoch_;
        save(best_path);  // the averaged weights, as train.py saves them
        --epoch_;
      }
    } else {
      valid_loss = evaluate(valid_, config_.eval_batch_size);
      check_finite(valid_loss, "validation loss", fmt::format("after epoch {}", epoch_));
      if (valid_loss < best_loss_) {
        best_loss_ = valid_loss;
        best_epoch_ = epoch_;
        ++epoch_;
        save(best_path);
        --epoch_;
      }
      if (!search_ && asgd_switch_due(valid_history_, valid_loss, config_.nonmono)) {
        make_asgd();
        switched = true;
      }
      valid_history_.push_back(valid_loss);
    }
    if (first_valid_ppl_ == 0) first_valid_ppl_ = std::exp(valid_loss);

    json record = {{"kind", "epoch"},
                   {"epoch", epoch_},
                   {"step", global_step_},
                   {"lr", config_.learning_rate},
                   {"optimizer", optimizer_->kind()},
                   {"train_loss", train_loss},
                   {"train_ppl", std::exp(train_loss)},
                   {"valid_loss", valid_loss},
                   {"valid_ppl", std::exp(valid_loss)},
                   {"valid_averaged", averaged},
                   {"best_valid_ppl", std::exp(best_loss_)},
                   {"best_epoch", best_epoch_},
                   {"switched_to_asgd", switched},
                   {"seconds", rounded(seconds_since(epoch_start), 2)},
                   {"genotype", to_text(model_->genotype())}};
    if (search_) {
      record["genotype_at_start"] = genotype_at_start;
      record["alpha"] = rounded(model_->alpha_weights());
    }
    folder_->append_log(record);
    ++epoch_;
    ++session_epochs;
    save(folder_->checkpoint_path());
    write_genotype_files();
    write_run_report();
    progress.update(fmt::format("epoch {}/{} done: train ppl {:.2f}, valid ppl {:.2f}{}, {:.0f} s",
                                epoch_, config_.epochs, std::exp(train_loss), std::exp(valid_loss),
                                averaged ? " (averaged weights)" : "",
                                seconds_since(epoch_start)),
                    true);
    progress.finish();
  }

  RnnOutcome out;
  out.run_dir = folder_->dir();
  out.genotype = model_->genotype();
  out.epochs_done = epoch_;
  out.finished = epoch_ >= config_.epochs;
  out.first_valid_ppl = first_valid_ppl_;
  out.best_valid_ppl = std::exp(best_loss_);
  if (out.finished && !search_) {
    // Test perplexity of the best checkpoint (train.py's final evaluation on test/1).
    load(best_path, false);
    const double test_loss = evaluate(test_, config_.test_batch_size);
    out.test_ppl = std::exp(test_loss);
    folder_->append_log({{"kind", "test"}, {"best_epoch", best_epoch_}, {"test_loss", test_loss},
                         {"test_ppl", out.test_ppl}});
    epoch_ = config_.epochs;
    write_run_report();
  }
  return out;
}

json resolved_config(const RnnRunConfig& config, const json& info) {
  json j = config;
  j["run"] = info;
  return j;
}

RnnOutcome start(const RnnRunConfig& config, const data::TextCorpus& corpus, const fs::path& dir,
                 const RunOptions& options, bool search) {
  config.validate(search);
  RnnRun run(config, corpus, resolve_device(config.device), search);
  run.folder_ = RunFolder::create(dir, resolved_config(config, run.run_info()));
  return run.run(options);
}

}  // namespace

RnnOutcome run_rnn_search(const RnnRunConfig& config, const data::TextCorpus& corpus,
                          const fs::path& run_dir, const RunOptions& options) {
  return start(config, corpus, run_dir, options, true);
}

RnnOutcome run_rnn_train(const RnnRunConfig& config, const data::TextCorpus& corpus,
                         const fs::path& run_dir, const RunOptions& options) {
  return start(config, corpus, run_dir, options, false);
}

RnnOutcome resume_rnn_run(const fs::path& run_dir, const data::TextCorpus& corpus,
                          const RunOptions& options) {
  RunFolder folder = RunFolder::open(run_dir);
  folder.expect_kind({"rnn-search", "rnn-train"});
  folder.check_resumable();
  const std::string kind = folder.kind();
  json stored = folder.config();
  stored.erase("run");
  const RnnRunConfig config = config_from_json<RnnRunConfig>(stored, "rnn");
  const Device device = resolve_device(options.device.empty() ? config.device : options.device);
  RnnRun run(config, corpus, device, kind == "rnn-search");
  run.folder_ = folder;
  run.load(folder.checkpoint_path(), true);
  return run.run(options);
}

}  // namespace autonet::darts
