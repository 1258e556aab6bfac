#include "hpsearch/workloads/darts_search.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "darts/tasks/search_trainer.h"
#include "darts/tasks/train_trainer.h"
#include "datasets/registry.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

namespace fs = std::filesystem;
using darts::SearchRunConfig;
using darts::TrainRunConfig;
using Settings = nlohmann::json;  // darts configs use the unordered JSON type

// Options of the workload itself, not of the search.
const std::set<std::string> kOwnOptions{"name", "objective", "runs_dir", "derived"};
// Search settings that only the runner gives (per trial).
const std::set<std::string> kFromRunner{"seed", "device"};
enum class FieldKind { Int, Float, Bool };

// The fields SearchRunConfig's table lets a study search, with their kind from the JSON form.
const std::map<std::string, FieldKind>& searchable_fields() {
  static const std::map<std::string, FieldKind> fields = [] {
    std::map<std::string, FieldKind> out;
    const Settings defaults = SearchRunConfig{};
    for (const std::string& key : darts::searchable_keys<SearchRunConfig>()) {
      const Settings& value = defaults.at(key);
      out[key] = value.is_boolean()          ? FieldKind::Bool
                 : value.is_number_integer() ? FieldKind::Int
                                             : FieldKind::Float;
    }
    return out;
  }();
  return fields;
}

std::string searchable_list() {
  std::string out;
  for (const auto& [name, _] : searchable_fields()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

Settings to_settings(const Json& value) { return Settings::parse(value.dump()); }

// The fixed search settings of a workload config (one loader thread per loader unless given).
// Throws for unknown keys, bad types and the settings only the runner gives.
Settings fixed_settings(const Json& config) {
  Settings fixed = {{"workers", 1}};
  for (const auto& [key, value] : config.items()) {
    if (kOwnOptions.count(key)) continue;
    AN_CHECK(!kFromRunner.count(key)) << "workload 'darts-search': \"" << key
                                      << "\" is the trial's own (the runner gives it), not a "
                                         "workload setting";
    fixed[key] = to_settings(value);
  }
  (void)darts::config_from_json<SearchRunConfig>(fixed, "darts-search workload");
  return fixed;
}

// The metric (loss or error) and whose: the supernet's, or the derived network's after training.
struct Objective {
  bool loss = true;
  bool derived = false;
};

Objective objective_of(const Json& config) {
  const Json o = config.value("objective", Json("valid_loss"));
  for (const bool derived : {false, true})
    for (const bool loss : {true, false})
      if (o == std::string(derived ? "derived_" : "") + (loss ? "valid_loss" : "valid_error"))
        return {loss, derived};
  AN_THROW() << "workload 'darts-search': \"objective\" must be \"valid_loss\", "
                "\"valid_error\", \"derived_valid_loss\" or \"derived_valid_error\", got "
             << o.dump();
}

// The training of the derived network (darts/tasks/train_trainer.h) for the derived_* objectives:
// small defaults, then the workload's "derived" object. The trial gives the rest.
const std::set<std::string> kDerivedFromTrial{"genotype",    "dataset", "data_dir", "subset",
                                              "test_subset", "seed",    "device"};

Settings derived_settings(const Json& config) {
  Settings s = {{"epochs", 2},           {"channels", 8},        {"layers", 5},
                {"batch_size", 32},      {"valid_portion", 0.2}, {"auxiliary", false},
                {"drop_path_prob", 0.0}, {"cutout", false},      {"workers", 1},
                {"log_every", 0}};
  if (!config.contains("derived")) return s;
  const std::string what = "workload 'darts-search': \"derived\"";
  AN_CHECK(objective_of(config).derived)
      << what
      << " trains the derived network, which only the derived_valid_loss and "
         "derived_valid_error objectives do; drop it or change the objective";
  const Json& derived = config.at("derived");
  AN_CHECK(derived.is_object()) << what << " must be an object of `autonet train` settings, got "
                                << derived.dump();
  for (const auto& [key, value] : derived.items()) {
    AN_CHECK(!kDerivedFromTrial.count(key))
        << what << ": \"" << key
        << "\" is the trial's (the derived network trains the searched genotype on the search's "
           "data, seed and device)";
    s[key] = to_settings(value);
  }
  try {
    const TrainRunConfig c = darts::config_from_json<TrainRunConfig>(s, "derived");
    c.validate();
    AN_CHECK(c.valid_portion > 0) << "valid_portion must be positive: the derived network is "
                                     "scored on held-out training images, never the test set";
  } catch (const Error& e) {
    AN_THROW() << what << ": " << e.message();
  }
  return s;
}

// The derived network's training config: the genotype a trial's search found, on its data, with
// its seed and device.
TrainRunConfig derived_config(const Settings& derived, const SearchRunConfig& search,
                              const std::string& genotype) {
  Settings c = derived;
  const Settings trial = search;
  for (const char* key : {"dataset", "data_dir", "subset", "seed", "device"}) c[key] = trial.at(key);
  c["genotype"] = genotype;
  return darts::config_from_json<TrainRunConfig>(c, "derived");
}

void check_param_name(const std::string& name, const Settings& fixed) {
  AN_CHECK(searchable_fields().count(name))
      << "workload 'darts-search': no searchable setting '" << name
      << "' (searchable: " << searchable_list() << ")";
  AN_CHECK(!fixed.contains(name))
      << "workload 'darts-search': '" << name
      << "' is both a searched parameter and a fixed setting of the workload; keep one";
}

// The search config of one trial: fixed settings, then the trial's parameters, seed and device.
SearchRunConfig trial_config(const Settings& fixed, const Json& params, uint64_t seed,
                             const std::string& device) {
  Settings merged = fixed;
  for (const auto& [key, value] : params.items()) {
    check_param_name(key, fixed);
    merged[key] = to_settings(value);
  }
  merged["seed"] = static_cast<int64_t>(seed & INT64_MAX);  // trial seeds are 63-bit already
  merged["device"] = device;
  SearchRunConfig c = darts::config_from_json<SearchRunConfig>(merged, "darts-search trial");
  // The method's recipe (--method pc-darts) for what neither the workload nor the trial sets.
  std::vector<std::string> keys_set;
  for (const auto& [key, value] : merged.items()) keys_set.push_back(key);
  darts::apply_presets(c, keys_set, darts::Scope::search);
  c.validate();
  AN_CHECK(c.channels % 2 == 0) << "channels must be even (FactorizedReduce halves them), got "
                                << c.channels;
  return c;
}

// Whether a space parameter's values fit a field's kind; throws naming both otherwise.
void check_param_type(const ParamSpec& p, FieldKind kind) {
  const char* what = kind == FieldKind::Int ? "an integer" : kind == FieldKind::Bool ? "a bool" : "a number";
  if (p.type == ParamType::Categorical) {
    for (const Json& c : p.choices) {
      const bool ok = kind == FieldKind::Bool  ? c.is_boolean()
                      : kind == FieldKind::Int ? c.is_number_integer()
                                               : c.is_number();
      AN_CHECK(ok) << "workload 'darts-search': parameter '" << p.name << "' takes " << what
                   << ", but choice " << c.dump() << " is not";
    }
    return;
  }
  AN_CHECK(kind != FieldKind::Bool) << "workload 'darts-search': parameter '" << p.name
                                    << "' is a bool: give it as a categorical of true/false";
  AN_CHECK(kind != FieldKind::Int || p.type == ParamType::Int)
      << "workload 'darts-search': parameter '" << p.name
      << "' is an integer setting: give it type \"int\" or a categorical of integers";
  AN_CHECK(p.name != "channels")
      << "workload 'darts-search': parameter 'channels' must be even (FactorizedReduce halves "
         "it), and the int range ["
      << p.low << ", " << p.high
      << "] holds odd values: give it as a categorical of even numbers, e.g. "
         "{\"type\": \"categorical\", \"choices\": [4, 8, 16]}";
}

// The values of a parameter worth checking: bounds and default, or every choice.
std::vector<Json> values_to_check(const ParamSpec& p) {
  if (p.type == ParamType::Categorical) return p.choices;
  return {p.to_json(p.low), p.to_json(p.high), p.default_value};
}

// A run folder for one trial: runs_dir/trial-N (kept), or a temporary one (removed).
class TrialFolder {
 public:
  TrialFolder(const std::string& runs_dir, const TrialContext& ctx) : keep_(!runs_dir.empty()) {
    const std::string name = "trial-" + std::to_string(ctx.number);
    path_ = keep_ ? fs::path(runs_dir) / name
                  : fs::temp_directory_path() / ("autonet-darts-" + std::to_string(::getpid()) +
                                                 "-" + name + "-" + std::to_string(ctx.attempt));
    fs::remove_all(path_);  // a re-queued trial starts again from scratch
  }
  ~TrialFolder() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  TrialFolder(const TrialFolder&) = delete;
  TrialFolder& operator=(const TrialFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_;
};

// The last epoch record of a run's log.jsonl.
Settings last_epoch_record(const fs::path& run_dir) {
  const std::vector<Settings> log = run::RunFolder::open(run_dir).read_log();
  for (auto it = log.rbegin(); it != log.rend(); ++it)
    if (it->value("kind", "") == "epoch") return *it;
  AN_THROW() << "the search in " << run_dir << " logged no epoch";
}

class DartsSearchWorkload : public TrialWorkload {
 public:
  explicit DartsSearchWorkload(const Json& config)
      : fixed_(fixed_settings(config)),
        objective_(objective_of(config)),
        derived_(derived_settings(config)),
        runs_dir_(config.value("runs_dir", std::string())) {
    const SearchRunConfig c = darts::config_from_json<SearchRunConfig>(fixed_, "darts-search workload");
    data_ = data::open_image_dataset(c.dataset, c.data_dir);
  }

  TrialResult run(const Json& params, const TrialContext& ctx, Reporter& reporter) override {
    const auto t0 = std::chrono::steady_clock::now();
    const SearchRunConfig config = trial_config(fixed_, params, ctx.seed, ctx.device);
    const TrialFolder folder(runs_dir_, ctx);
    // One epoch per call: report, then resume or stop.
    darts::RunOptions options = darts::RunOptions::quiet(/*stop_after_epochs=*/1);
    darts::SearchOutcome out = darts::run_search(config, data_, folder.path(), options);
    Settings epoch;
    double value = NAN;
    bool stopped = false;
    for (;;) {
      epoch = last_epoch_record(folder.path());
      const double accuracy = epoch.at("valid_acc").get<double>();
      value = metric(accuracy, epoch.at("valid_loss").get<double>());
      const Json metrics = {{"accuracy", accuracy},
                            {"train_loss", epoch.at("train_loss").get<double>()},
                            {"train_acc", epoch.at("train_acc").get<double>()}};
      stopped = reporter.report(out.epochs_done, value, metrics, out.finished ? out.epochs_done : 0);
      if (stopped || out.finished) break;
      out = darts::resume_search(folder.path(), data_, options);
    }
    const Settings info = run::RunFolder::open(folder.path()).config().at("run");
    TrialResult result{value,
                       {{"accuracy", epoch.at("valid_acc").get<double>()},
                        {"valid_loss", epoch.at("valid_loss").get<double>()},
                        {"train_loss", epoch.at("train_loss").get<double>()},
                        {"train_acc", epoch.at("train_acc").get<double>()},
                        {"epochs", out.epochs_done},
                        {"genotype", darts::to_text(out.genotype)},
                        {"parameters", info.at("parameters").get<int64_t>()}}};
    if (objective_.derived && !stopped) {
      // Inside the search's folder: kept with it under runs_dir, removed with it otherwise.
      const TrainRunConfig c = derived_config(derived_, config, darts::to_text(out.genotype));
      darts::RunOptions whole = options;
      whole.stop_after_epochs = -1;
      const darts::TrainOutcome trained =
          darts::run_training(c, data_, folder.path() / "derived", whole);
      result.value = metric(trained.valid_accuracy, trained.valid_loss);
      result.metrics["derived_accuracy"] = trained.valid_accuracy;
      result.metrics["derived_valid_loss"] = trained.valid_loss;
      result.metrics["derived_parameters"] =
          run::RunFolder::open(trained.run_dir).config().at("run").at("parameters");
    }
    result.metrics["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
  }

 private:
  // The objective's value from a validation accuracy and cross-entropy.
  double metric(double accuracy, double loss) const {
    return objective_.loss ? loss : 1.0 - accuracy;
  }

  Settings fixed_;
  Objective objective_;
  Settings derived_;
  std::string runs_dir_;
  data::ImageData data_;
};

}  // namespace

std::unique_ptr<TrialWorkload> make_darts_search_workload(const Json& config) {
  return std::make_unique<DartsSearchWorkload>(config);
}

void check_darts_search_space(const Json& config, const Space& space) {
  const Settings fixed = fixed_settings(config);
  objective_of(config);
  derived_settings(config);
  for (const ParamSpec& p : space.params()) {
    check_param_name(p.name, fixed);
    check_param_type(p, searchable_fields().at(p.name));
  }
  // Each bound, default and choice with the other parameters at their defaults: what the search
  // would refuse is refused now, before any trial runs.
  const Json defaults = space.params_json(space.defaults());
  for (const ParamSpec& p : space.params()) {
    for (const Json& v : values_to_check(p)) {
      Json params = defaults;
      params[p.name] = v;
      try {
        trial_config(fixed, params, 0, "cpu");
      } catch (const Error& e) {
        AN_THROW() << "workload 'darts-search': parameter '" << p.name << "' = " << v.dump()
                   << " is not a valid search setting: " << e.message();
      }
    }
  }
}

}  // namespace autonet::hpsearch
