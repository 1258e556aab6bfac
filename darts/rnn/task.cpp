// The shared part of the recurrent DARTS tasks (darts/rnn/task.h).
#include "darts/rnn/task.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <optional>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "darts/cnn/cell_layout.h"
#include "darts/tasks/report.h"
#include "kernels/elementwise.h"
#include "run/common.h"
#include "runtime/error.h"
#include "runtime/side_stream.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

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

constexpr uint32_t kBpttStream = 0x42505454;  // "BPTT": the sequence-length draws

}  // namespace

Tensor first_tokens(const Tensor& split, int64_t n) {
  return n > 0 && n < split.numel() ? split.slice(0, 0, n) : split;
}

Tensor batchify_checked(const Tensor& tokens, int64_t batch, int64_t min_rows, const char* split,
                        const char* flag) {
  AN_CHECK(tokens.numel() > 0) << "the " << split << " split is empty";
  const int64_t rows = tokens.numel() / batch;
  AN_CHECK(rows >= min_rows) << flag << " " << batch << " leaves " << rows << " rows of the "
                             << split << " split (" << tokens.numel() << " tokens); at least "
                             << min_rows << " are needed: lower " << flag;
  return data::batchify(tokens, batch);
}

std::unique_ptr<RnnTask> make_rnn_task(const std::string& kind, const RnnRunConfig& config,
                                       const data::TextCorpus& corpus, Device device) {
  AN_CHECK(kind == "rnn-search" || kind == "rnn-train")
      << "'" << kind << "' is not a recurrent run (rnn-search or rnn-train)";
  const bool search = kind == "rnn-search";
  config.validate(search);
  return search ? make_rnn_search_task(config, corpus, device)
                : make_rnn_train_task(config, corpus, device);
}

RnnTask::RnnTask(const RnnRunConfig& config, const data::TextCorpus& corpus, Device device,
                 Names names)
    : config_(config),
      names_(names),
      device_(device),
      corpus_name_(corpus.name),
      vocabulary_(corpus.dictionary.size()),
      fingerprint_(vocabulary_fingerprint(corpus.dictionary)),
      weights_(static_cast<uint64_t>(config.seed)),
      bptt_rng_(static_cast<uint64_t>(config.seed), kBpttStream) {
  train_ = batchify_checked(first_tokens(corpus.train, config.train_tokens), config.batch_size, 3,
                            "train", "--batch-size");
  valid_ = batchify_checked(first_tokens(corpus.valid, config.valid_tokens),
                            config.eval_batch_size, 2, "valid", "--eval-batch-size");
}

RnnConfig RnnTask::model_config() const {
  RnnConfig m;
  m.vocabulary = vocabulary_;
  m.emsize = config_.emsize;
  m.nhid = config_.nhid;
  m.dropout = config_.dropout;
  m.dropouth = config_.dropouth;
  m.dropoutx = config_.dropoutx;
  m.dropouti = config_.dropouti;
  m.dropoute = config_.dropoute;
  m.seed = static_cast<uint64_t>(config_.seed);
  return m;
}

void RnnTask::set_model(std::unique_ptr<RnnModel> model) {
  model_ = std::move(model);
  weights_.to(device_);
  make_sgd();
}

void RnnTask::make_sgd() {
  SgdOptions sgd;
  sgd.lr = config_.learning_rate;
  sgd.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<Sgd>(weights_.weights(), weights_.grads(), sgd);
}

void RnnTask::make_asgd() {
  AsgdOptions asgd;
  asgd.lr = config_.learning_rate;
  asgd.t0 = 0;
  asgd.lambd = 0;
  asgd.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<Asgd>(weights_.weights(), weights_.grads(), asgd);
}

json RnnTask::run_info() const {
  return {{"device", device_.str()},
          {"kind", names_.kind},
          {"data", corpus_name_},
          {"vocabulary", vocabulary_},
          {"train_rows", train_.size(0)},
          {"parameters", model_->parameter_count()},
          {"param_size", format_param_size_mb(model_->parameter_count())}};
}

std::vector<NamedTensor> RnnTask::state_tensors() const {
  std::vector<NamedTensor> t = with_prefix("model.", run::named(weights_.named_tensors()));
  run::append(t, with_prefix("w_optimizer.", optimizer_->state_tensors()));
  return t;
}

json RnnTask::state() const {
  json rng = json::array();
  for (uint64_t o : model_->rng_offsets()) rng.push_back(o);
  return {{"vocabulary", vocabulary_},
          {"vocabulary_fingerprint", fingerprint_},
          {"dataset", corpus_name_},
          {"w_optimizer", optimizer_->state_json()},
          {"dropout_rng", rng},
          {"bptt_rng", bptt_rng_.offset()},
          {"best_valid_loss", best_.value},
          {"best_epoch", best_.epoch},
          {"valid_history", valid_history_},
          {"first_valid_ppl", first_valid_ppl_}};
}

// The vocabulary is checked before the tensors are read (a shape error would hide the cause),
// and the optimizer made of the stored kind: after the ASGD switch the checkpoint holds ASGD's
// average.
void RnnTask::before_load(const fs::path& checkpoint) {
  const json peek = read_checkpoint(checkpoint).state;
  AN_CHECK(peek.value("vocabulary", int64_t{-1}) == vocabulary_ &&
           peek.value("vocabulary_fingerprint", uint64_t{0}) == fingerprint_)
      << "vocabulary mismatch: the checkpoint was made on " << peek.value("dataset", "?") << " with "
      << peek.value("vocabulary", int64_t{-1}) << " words, the data now give " << vocabulary_
      << " words"
      << (peek.value("vocabulary", int64_t{-1}) == vocabulary_ ? " (same count, different words)"
                                                               : "");
  if (peek.at("w_optimizer").value("kind", "") == "asgd")
    make_asgd();
  else
    make_sgd();
}

void RnnTask::restore(const json& state, Restore what) {
  optimizer_->load_state_json(state.at("w_optimizer"));
  // A rollback keeps the dropout and BPTT streams where they are: restoring them would replay
  // the very steps that diverged.
  if (what == Restore::rollback) return;
  std::array<uint64_t, kRnnDropouts> rng{};
  for (int d = 0; d < kRnnDropouts; ++d) rng[d] = state.at("dropout_rng").at(d).get<uint64_t>();
  model_->set_rng_offsets(rng);
  bptt_rng_.set_offset(state.at("bptt_rng").get<uint64_t>());
  best_.value = state.at("best_valid_loss").get<double>();
  best_.epoch = state.at("best_epoch").get<int64_t>();
  valid_history_ = state.at("valid_history").get<std::vector<double>>();
  first_valid_ppl_ = state.at("first_valid_ppl").get<double>();
}

void RnnTask::start(run::Engine& engine) {
  engine.progress().update(
      fmt::format("{} model: {} parameters (param size = {}), {} train rows of {}", names_.model,
                  model_->parameter_count(), format_param_size_mb(model_->parameter_count()),
                  train_.size(0), config_.batch_size),
      true);
  engine.progress().finish();
}

double RnnTask::evaluate(const Tensor& source, int64_t batch) {
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

json RnnTask::load(const fs::path& checkpoint) {
  before_load(checkpoint);
  const json state = load_checkpoint(checkpoint, state_tensors());
  restore(state, Restore::resume);
  return state;
}

double RnnTask::evaluate_tokens(const Tensor& tokens, int64_t batch, const std::string& split) {
  const Tensor source = batchify_checked(tokens, batch, 2, split.c_str(), "--batch-size");
  std::optional<AveragedWeights> averaged;
  if (auto* asgd = dynamic_cast<Asgd*>(optimizer_.get())) averaged.emplace(*asgd);
  return evaluate(source, batch);
}

double RnnTask::validate_and_keep_best(run::Engine& engine) {
  const double loss = evaluate(valid_, config_.eval_batch_size);
  run::check_finite(loss, "validation loss", fmt::format("after epoch {}", engine.epoch()));
  if (best_.update(loss, engine.epoch())) engine.save_best();
  return loss;
}

int64_t RnnTask::draw_sequence_length() {
  const PhiloxKey key = bptt_rng_.next(3);
  const double base =
      philox_uniform(key, 0) < 0.95 ? static_cast<double>(config_.bptt) : config_.bptt / 2.0;
  return sequence_length(base, key);
}

void RnnTask::replay_steps(ParameterStore* alphas, RnnArchitect* architect) {
  set_side_streams(config_.side_stream);  // before a capture records the streams
  if (config_.cuda_graph && device_.is_cuda())
    captured_ = std::make_unique<CapturedRnnStep>(*model_, alphas, architect, config_.ar_alpha,
                                                  config_.tar_beta, config_.grad_clip);
}

RnnWeightStep RnnTask::weight_step(const RnnSegment& train) {
  if (captured_) return captured_->step(*optimizer_, train, nullptr).weight;
  return rnn_weight_step(*model_, alpha_store(), *optimizer_, train, config_.ar_alpha,
                         config_.tar_beta, config_.grad_clip);
}

void RnnTask::check_weight_step(double nll, double grad_norm, const std::string& where) {
  run::check_finite(nll, "training loss", where);
  run::check_finite(grad_norm, "weights' gradient norm", where);
}

double RnnTask::train_epoch(run::Engine& engine) {
  const int64_t b = config_.batch_size, rows = train_.size(0), epoch = engine.epoch();
  Tensor hidden = model_->initial_hidden(b);
  double loss_sum = 0;
  int64_t tokens = 0, step = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < rows - 2; ++step) {
    if (config_.max_steps > 0 && step >= config_.max_steps) break;
    const int64_t seq_len = draw_sequence_length();
    const double lr = config_.learning_rate * static_cast<double>(seq_len) / config_.bptt;
    optimizer_->set_lr(lr);
    const std::string where = fmt::format("at epoch {} step {}", epoch, step);
    const data::TextBatch t = data::get_batch(train_, i, seq_len);
    const RnnSegment segment{t.input.contiguous().to(device_), t.target.contiguous().to(device_),
                             hidden};
    before_weight_step(segment, i, where);
    const run::RunOptions& options = engine.options();
    if (options.poison_weights && options.poison_weights(epoch, step)) {
      Tensor first = weights_.weights().slice(0, 0, 1);
      fill(first, std::nan(""));
    }
    const RnnWeightStep ws = weight_step(segment);
    // The step's one host sync: its values are read once all its work is queued.
    const double nll = ws.nll.item(), grad_norm = ws.grad_norm.item();
    check_weight_step(nll, grad_norm, where);
    hidden = ws.hidden;
    const int64_t n = t.target.numel();
    loss_sum += nll * static_cast<double>(n);
    tokens += n;
    engine.count_step();
    i += seq_len;
    const double mean = loss_sum / static_cast<double>(tokens);
    const double tok_s = tokens / std::max(run::seconds_since(start), 1e-9);
    engine.progress().update(
        fmt::format("epoch {}/{}  step {}  row {}/{}  loss {:.4f}  ppl {:.1f}  {:.0f} tok/s",
                    epoch + 1, config_.epochs, step + 1, std::min(i, rows), rows, mean,
                    std::exp(mean), tok_s));
    if (config_.log_every > 0 && engine.global_step() % config_.log_every == 0)
      engine.folder().append_log({{"kind", "step"},
                                  {"epoch", epoch},
                                  {"step", engine.global_step()},
                                  {"row", i},
                                  {"rows", rows},
                                  {"loss", mean},
                                  {"ppl", std::exp(mean)},
                                  {"lr", lr},
                                  {"tokens_per_s", run::rounded(tok_s, 1)}});
  }
  return tokens ? loss_sum / static_cast<double>(tokens) : 0.0;
}

run::EpochResult RnnTask::run_epoch(run::Engine& engine) {
  model_->train();
  const double train_loss = train_epoch(engine);
  const Validation v = validate(engine);
  if (first_valid_ppl_ == 0) first_valid_ppl_ = std::exp(v.loss);
  return {{{"lr", config_.learning_rate},
           {"optimizer", optimizer_->kind()},
           {"train_loss", train_loss},
           {"train_ppl", std::exp(train_loss)},
           {"valid_loss", v.loss},
           {"valid_ppl", std::exp(v.loss)},
           {"valid_averaged", v.averaged},
           {"best_valid_ppl", std::exp(best_.value)},
           {"best_epoch", best_.epoch},
           {"switched_to_asgd", v.switched},
           {"genotype", to_text(model_->genotype())}},
          fmt::format("train ppl {:.2f}, valid ppl {:.2f}{}", std::exp(train_loss),
                      std::exp(v.loss), v.averaged ? " (averaged weights)" : "")};
}

void RnnTask::after_checkpoint(run::Engine& engine) {
  const run::RunFolder& folder = engine.folder();
  const RnnGenotype g = model_->genotype();
  folder.write_file("genotype.txt", to_text(g) + "\n");
  folder.write_file("genotype.json", to_json(g).dump(2) + "\n");
  write_drawing(to_dot(g), folder.path("recurrent").string());
  write_report(folder, fmt::format("{} — {}", names_.title, folder.dir().filename().string()));
}

RnnOutcome RnnTask::outcome(const run::Engine& engine, bool finished) const {
  RnnOutcome out;
  out.run_dir = engine.folder().dir();
  out.genotype = model_->genotype();
  out.epochs_done = engine.epoch();
  out.finished = finished;
  out.first_valid_ppl = first_valid_ppl_;
  out.best_valid_ppl = std::exp(best_.value);
  out.test_ppl = test_ppl_;
  return out;
}

}  // namespace autonet::darts
