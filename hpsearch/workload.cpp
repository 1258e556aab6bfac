#include "hpsearch/workload.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "hpsearch/command_workload.h"
#include "hpsearch/registry.h"
#include "hpsearch/rng.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

class SyntheticWorkload : public TrialWorkload {
 public:
  explicit SyntheticWorkload(const Json& config) : config_(config) {
    AN_CHECK(config.value("epochs", 5) >= 1) << "synthetic workload: epochs must be >= 1";
  }

  TrialResult run(const Json& params, const TrialContext& ctx, Reporter& reporter) override {
    if (hits(config_, "throw", ctx, 0))
      AN_THROW() << "synthetic workload: failing trial " << ctx.number << " on request";
    double final = config_.value("base", 0.1);
    if (config_.contains("target")) {
      for (const auto& [name, target] : config_["target"].items()) {
        AN_CHECK(params.contains(name)) << "synthetic workload: no parameter '" << name << "'";
        const Json& x = params[name];
        if (x.is_number() && target.is_object()) {  // {"value": t, "log": true} or "scale": s
          const double t = target.at("value").get<double>(), v = x.get<double>();
          const double d = target.value("log", false) ? std::log10(v / t)
                                                      : (v - t) / target.value("scale", 1.0);
          final += d * d;
        } else if (x.is_number() && target.is_number()) {
          const double t = target.get<double>();
          const double d = (x.get<double>() - t) / std::max(std::abs(t), 1.0);
          final += d * d;
        } else {
          final += x == target ? 0.0 : 1.0;
        }
      }
    }
    const double noise = config_.value("noise", 0.0);
    if (noise != 0) final += noise * (SuggestionRng(ctx.seed, 0).uniform() - 0.5);
    const int epochs = config_.value("epochs", 5);
    const int sleep_ms = config_.value("sleep_ms", 0);
    double value = final;
    for (int e = 1; e <= epochs; ++e) {
      if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      if (hits(config_, "crash", ctx, e)) ::kill(::getpid(), SIGKILL);
      value = final * (1.0 + static_cast<double>(epochs - e) / epochs);
      if (config_.contains("nan") && config_["nan"].value("trial", int64_t{-1}) == ctx.number &&
          e >= config_["nan"].value("step", 1))
        value = NAN;
      if (reporter.report(e, value, {{"accuracy", 1.0 / (1.0 + value)}}, epochs)) break;
    }
    return {value, {{"accuracy", 1.0 / (1.0 + value)}}};
  }

 private:
  // Whether the fault `key` fires for this trial (and step, when the fault names one).
  static bool hits(const Json& config, const char* key, const TrialContext& ctx, int step) {
    if (!config.contains(key)) return false;
    const Json& f = config[key];
    if (f.value("trial", int64_t{-1}) != ctx.number) return false;
    if (ctx.attempt > f.value("attempts", 1 << 30)) return false;
    return step == 0 || f.value("step", 1) == step;
  }
  Json config_;
};

struct Registered {
  WorkloadFactory factory;
  WorkloadChecker checker;
};

Registry<Registered>& workloads() {
  static Registry<Registered> r("workload", {{"synthetic", {make_synthetic_workload, {}}},
                                             {"command", {make_command_workload, check_command_workload}}});
  return r;
}

}  // namespace

std::unique_ptr<TrialWorkload> make_synthetic_workload(const Json& config) {
  return std::make_unique<SyntheticWorkload>(config);
}

void register_workload(const std::string& name, WorkloadFactory factory, WorkloadChecker checker) {
  workloads().add(name, {std::move(factory), std::move(checker)});
}

namespace {

// The registration of the workload a config names; throws naming the known ones.
Registered find_workload(const Json& config) {
  AN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string())
      << "workload config needs a \"name\"";
  return workloads().find(config["name"].get<std::string>());
}

}  // namespace

std::unique_ptr<TrialWorkload> make_workload(const Json& config) {
  return find_workload(config).factory(config);
}

void check_workload(const Json& config, const Space& space) {
  const Registered r = find_workload(config);
  if (r.checker) r.checker(config, space);
}

std::vector<std::string> workload_names() { return workloads().names(); }

}  // namespace autonet::hpsearch
