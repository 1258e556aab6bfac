// `autonet hpsearch create|run|resume|worker|ask|tell|status|best|export|plot`: hyperparameter
// studies kept in an SQLite file or a PostgreSQL database (a postgresql:// URL). `trial-process`
// (hidden) is the process that runs trials for a coordinator or a worker.
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <memory>
#include <optional>

#include "apps/commands.h"
#include "hpsearch/ask_tell.h"
#include "hpsearch/report.h"
#include "hpsearch/runner.h"
#include "hpsearch/store.h"
#include "hpsearch/study.h"
#include "hpsearch/worker.h"
#include "hpsearch/workload.h"
#include "hpsearch/workloads/training_workloads.h"
#include "report/atomic_file.h"
#include "runtime/error.h"

namespace autonet::apps {

namespace {

struct RunFlags {
  std::string study;
  hpsearch::SlotRequest slots;  // its defaults are the flags' defaults
  int64_t trials = 0;
  double wall_s = 0, trial_s = 0;
  bool quiet = false;
  hpsearch::Heartbeat heartbeat;  // `worker` only
};

void add_run_flags(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("study", f.study, "study: a file (.db) or a postgresql:// URL")->required();
  cmd->add_option("--workers", f.slots.workers,
                  "worker processes (cpu; default 1), or a cap on GPU workers (default: none)");
  cmd->add_option("--device", f.slots.device, "cpu, cuda (every GPU) or cuda:0,1")->capture_default_str();
  cmd->add_option("--per-device", f.slots.per_device, "trials at once per GPU")->capture_default_str();
  cmd->add_option("--gpu-mem-gib", f.slots.memory_gib,
                  "memory budget per trial: as many trials per GPU as fit (overrides --per-device)");
  cmd->add_option("--trials", f.trials, "trial budget (overrides the study's; 0 = keep)");
  cmd->add_option("--wall-s", f.wall_s, "wall-clock budget of this run in seconds (0 = the study's)");
  cmd->add_option("--trial-s", f.trial_s, "per-trial time limit in seconds (0 = the study's)");
  cmd->add_flag("--quiet", f.quiet, "print only the summary");
}

void run(const RunFlags& f, bool worker) {
  hpsearch::RunOptions o;
  o.worker_command = {hpsearch::self_executable(), "hpsearch", "trial-process"};
  o.slots = hpsearch::plan_slots(f.slots);
  if (f.trials > 0) o.max_trials = f.trials;
  if (f.wall_s > 0) o.wall_s = f.wall_s;
  if (f.trial_s > 0) o.trial_s = f.trial_s;
  o.version = AUTONET_VERSION;
  if (!f.quiet) o.log = [](const std::string& line) { fmt::print("{}\n", line); };
  fmt::print("{} {} on {} {}: {}\n", worker ? "working on" : "running", f.study, o.slots.size(),
             worker ? "slot(s)" : "worker(s)", fmt::join(o.slots, ","));
  const hpsearch::RunSummary s =
      worker ? hpsearch::work_on_study(f.study, o, f.heartbeat) : hpsearch::run_study(f.study, o);
  fmt::print("stopped by the {}: {} complete, {} pruned, {} failed, {} waiting\n", s.stopped_by,
             s.complete, s.pruned, s.failed, s.waiting);
  const hpsearch::StudySnapshot snap = hpsearch::StudySnapshot::load(hpsearch::StudyStore::open(f.study, true));
  fmt::print("{}", hpsearch::status_text(snap));
}

}  // namespace

void add_hpsearch_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("hpsearch", "Hyperparameter studies: samplers, pruning, parallel trials, reports");
  cmd->require_subcommand(1);

  CLI::App* create = cmd->add_subcommand("create", "Create a study file from a config file, JSON or TOML by extension (validated, the space checked against the workload)");
  auto config = std::make_shared<std::string>();
  auto study = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  create->add_option("config", *config, "study config (.json or .toml): space, sampler, pruner, workload, budget")->required();
  create->add_option("study", *study, "study to create: a file (.db) or a postgresql:// URL (an empty database)")->required();
  create->add_flag("--force", *force, "replace an existing study (refused while a coordinator runs it)");
  create->callback([config, study, force] {
    const hpsearch::StudyConfig c = hpsearch::load_study_config(*config);
    hpsearch::register_training_workloads();
    try {
      hpsearch::check_workload(c.workload, c.space);
    } catch (const Error& e) {
      AN_THROW() << "study config '" << *config << "': " << e.message();
    }
    hpsearch::StudyStore::create(*study, c.to_json(), *force);
    fmt::print("created study '{}' in {}: {} parameters, sampler {}, pruner {}, workload {}, {} trials\n",
               c.name, *study, c.space.size(), c.sampler["name"].get<std::string>(),
               c.pruner["name"].get<std::string>(), c.workload["name"].get<std::string>(), c.budget.trials);
  });

  auto run_flags = std::make_shared<RunFlags>();
  CLI::App* run_cmd = cmd->add_subcommand("run", "Run a study until its budget is spent (continues where it stopped)");
  add_run_flags(run_cmd, *run_flags);
  run_cmd->callback([run_flags] { run(*run_flags, false); });
  auto resume_flags = std::make_shared<RunFlags>();
  CLI::App* resume = cmd->add_subcommand(
      "resume", "Continue a study after a crash or kill: finished trials kept, interrupted ones re-run with the same parameters and seed");
  add_run_flags(resume, *resume_flags);
  resume->callback([resume_flags] { run(*resume_flags, false); });

  auto worker_flags = std::make_shared<RunFlags>();
  CLI::App* worker = cmd->add_subcommand(
      "worker", "Work on a shared study from any host, beside other workers (claims trials, heartbeats; no coordinator)");
  add_run_flags(worker, *worker_flags);
  worker->add_option("--heartbeat-s", worker_flags->heartbeat.interval_s, "heartbeat interval in seconds")
      ->capture_default_str();
  worker->add_option("--expiry-s", worker_flags->heartbeat.expiry_s,
                     "a trial whose worker is silent this long is re-queued")->capture_default_str();
  worker->callback([worker_flags] { run(*worker_flags, true); });

  CLI::App* ask = cmd->add_subcommand("ask", "Take the next trial for a script: prints its number, seed and parameters as JSON");
  auto ask_study = std::make_shared<std::string>();
  auto parallel = std::make_shared<int64_t>(1);
  auto ask_expiry = std::make_shared<double>(hpsearch::kAskExpiryS);
  ask->add_option("study", *ask_study, "study: a file (.db) or a postgresql:// URL")->required();
  ask->add_option("--parallel", *parallel, "trials the script keeps out at once (untold asks before this one)")
      ->capture_default_str();
  ask->add_option("--expiry-s", *ask_expiry,
                  "with no tell for this long the trial is re-queued (same parameters and seed)")
      ->capture_default_str();
  ask->callback([ask_study, parallel, ask_expiry] {
    const hpsearch::AskedTrial t = hpsearch::ask_trial(*ask_study, *parallel, AUTONET_VERSION, *ask_expiry);
    fmt::print("{}\n", hpsearch::Json{{"number", t.number}, {"seed", t.seed}, {"params", t.params}}.dump());
  });

  CLI::App* tell = cmd->add_subcommand(
      "tell", "Record an asked trial's result (--state), or one intermediate report (--step; prints the pruner's verdict)");
  struct TellFlags {
    std::string study, state, metrics = "{}", reason;
    int64_t number = 0, step = 0, last_step = 0;
    std::optional<double> value;
  };
  auto tf = std::make_shared<TellFlags>();
  tell->add_option("study", tf->study, "study: a file (.db) or a postgresql:// URL")->required();
  tell->add_option("trial", tf->number, "trial number (from ask)")->required();
  tell->add_option("--value", tf->value, "the objective (or the report's value with --step)");
  tell->add_option("--state", tf->state, "complete, pruned or failed")
      ->check(CLI::IsMember({"complete", "pruned", "failed"}));
  tell->add_option("--step", tf->step, "an intermediate report at this step (epoch, 1-based)");
  tell->add_option("--last-step", tf->last_step, "the trial's final step, when known: never pruned there");
  tell->add_option("--metrics", tf->metrics, "metrics beside the value, a JSON object");
  tell->add_option("--reason", tf->reason, "why it failed or was pruned");
  tell->callback([tf] {
    AN_CHECK((tf->step > 0) != !tf->state.empty()) << "tell: give either --step S --value V (a report) or --state";
    hpsearch::Json metrics;
    try {
      metrics = hpsearch::Json::parse(tf->metrics);
    } catch (const std::exception&) {
      AN_THROW() << "tell --metrics: not JSON: " << tf->metrics;
    }
    if (tf->step > 0) {
      AN_CHECK(tf->value) << "tell --step needs --value";
      const hpsearch::PruneDecision d =
          hpsearch::tell_report(tf->study, tf->number, tf->step, *tf->value, metrics, tf->last_step);
      fmt::print("{}\n", hpsearch::Json{{"prune", d.prune}, {"reason", d.reason}}.dump());
      return;
    }
    std::string state = tf->state;
    for (char& c : state) c = static_cast<char>(std::toupper(c));
    const hpsearch::TrialRecord t = hpsearch::tell_result(tf->study, tf->number, hpsearch::parse_trial_state(state),
                                                          tf->value, metrics, tf->reason);
    fmt::print("trial {} {}\n", t.number, hpsearch::trial_state_name(t.state));
  });

  CLI::App* status = cmd->add_subcommand("status", "Trial counts by state and the best trial");
  auto status_study = std::make_shared<std::string>();
  status->add_option("study", *status_study, "study: a file (.db) or a postgresql:// URL")->required();
  status->callback([status_study] {
    fmt::print("{}", hpsearch::status_text(hpsearch::StudySnapshot::load(hpsearch::StudyStore::open(*status_study, true))));
  });

  CLI::App* best = cmd->add_subcommand("best", "Print the best complete trial as JSON");
  auto best_study = std::make_shared<std::string>();
  best->add_option("study", *best_study, "study: a file (.db) or a postgresql:// URL")->required();
  best->callback([best_study] {
    const auto snap = hpsearch::StudySnapshot::load(hpsearch::StudyStore::open(*best_study, true));
    const auto t = hpsearch::best_trial(snap);
    AN_CHECK(t) << "study " << *best_study << " has no complete trial yet";
    fmt::print("{}\n", hpsearch::Json{{"number", t->number}, {"value", *t->value}, {"params", t->params},
                                      {"metrics", t->metrics}, {"seed", t->seed}}.dump(2));
  });

  CLI::App* exp = cmd->add_subcommand("export", "Write the trials as CSV and/or JSON");
  auto exp_study = std::make_shared<std::string>();
  auto csv = std::make_shared<std::string>();
  auto json = std::make_shared<std::string>();
  exp->add_option("study", *exp_study, "study: a file (.db) or a postgresql:// URL")->required();
  exp->add_option("--csv", *csv, "CSV file (one row per trial; '-' for stdout)");
  exp->add_option("--json", *json, "JSON file (config, trials with per-epoch values, events; '-' for stdout)");
  exp->callback([exp_study, csv, json] {
    AN_CHECK(!csv->empty() || !json->empty()) << "export: give --csv FILE and/or --json FILE";
    const auto snap = hpsearch::StudySnapshot::load(hpsearch::StudyStore::open(*exp_study, true));
    if (!csv->empty()) *csv == "-" ? fmt::print("{}", hpsearch::export_csv(snap)) : report::write_file_atomically(*csv, hpsearch::export_csv(snap));
    if (!json->empty()) {
      const std::string text = hpsearch::export_json(snap).dump(2) + "\n";
      *json == "-" ? fmt::print("{}", text) : report::write_file_atomically(*json, text);
    }
  });

  CLI::App* plot = cmd->add_subcommand("plot", "Write the HTML report (SVG plots: history, curves, parallel coordinates, importance)");
  auto plot_study = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("report.html");
  plot->add_option("study", *plot_study, "study: a file (.db) or a postgresql:// URL")->required();
  plot->add_option("--out", *out, "HTML file")->capture_default_str();
  plot->callback([plot_study, out] {
    report::write_file_atomically(*out, hpsearch::html_report(hpsearch::StudySnapshot::load(hpsearch::StudyStore::open(*plot_study, true))));
    fmt::print("wrote {}\n", *out);
  });

  CLI::App* trial_process = cmd->add_subcommand("trial-process", "Runs trials for a coordinator or worker (started by them)");
  trial_process->group("");  // hidden: not for people
  auto in_fd = std::make_shared<int>(-1);
  auto out_fd = std::make_shared<int>(-1);
  trial_process->add_option("--in-fd", *in_fd)->required();
  trial_process->add_option("--out-fd", *out_fd)->required();
  trial_process->callback([in_fd, out_fd] {
    hpsearch::register_training_workloads();
    const int status = hpsearch::run_worker(*in_fd, *out_fd);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace autonet::apps
