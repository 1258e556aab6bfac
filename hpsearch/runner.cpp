#include "hpsearch/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>

#include "hpsearch/claims.h"
#include "hpsearch/store.h"
#include "hpsearch/study.h"
#include "hpsearch/suggestions.h"
#include "hpsearch/sync_horizon.h"
#include "runtime/device.h"
#include "runtime/error.h"

extern char** environ;

namespace autonet::hpsearch {

namespace {

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + (name ? name : "?") + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (status " + std::to_string(status) + ")";
}

double json_number(const Json& v) { return v.is_number() ? v.get<double>() : NAN; }

struct Slot {
  std::string device;
  pid_t pid = -1;
  int to = -1, from = -1;
  std::string buffer;
  int64_t trial = -1;
  double started = 0;
  bool prune_sent = false;
  std::string prune_reason;
  std::vector<Intermediate> losses;  // this trial's reports, direction applied
};

// Runs a study's trials on its worker processes: as the study's one coordinator (`run`), or,
// with a heartbeat, as one of the workers of a shared study (claims.h).
class Coordinator {
 public:
  Coordinator(const std::string& path, const RunOptions& options, std::optional<Heartbeat> shared)
      : store_(StudyStore::open(path)),
        options_(options),
        shared_(shared),
        config_(StudyConfig::from_json(store_.config())),
        suggestions_(config_) {
    store_.lock_for_run(shared ? RunLock::Worker : RunLock::Coordinator);
    AN_CHECK(!options.worker_command.empty()) << "run_study: no worker command";
    AN_CHECK(!options.slots.empty()) << "run_study: no worker slots";
    if (shared) {
      AN_CHECK(shared->interval_s > 0 && shared->expiry_s > shared->interval_s)
          << "the heartbeat expiry (" << shared->expiry_s << " s) must exceed its interval ("
          << shared->interval_s << " s)";
      me_ = {worker_id(), "", static_cast<int64_t>(::getpid()), static_cast<int64_t>(options.slots.size()),
             shared->expiry_s};
      me_.host = me_.id.substr(0, me_.id.find(':'));
    }
    pruner_ = config_.make_pruner();
    budget_ = config_.budget;
    if (options.max_trials) budget_.trials = *options.max_trials;
    if (options.wall_s) budget_.wall_s = *options.wall_s;
    if (options.trial_s) budget_.trial_s = *options.trial_s;
    for (const std::string& d : options.slots) {
      Slot slot;
      slot.device = d;
      slots_.push_back(slot);
    }
  }

  ~Coordinator() {
    for (Slot& s : slots_) stop_worker(s, /*kill=*/true);
  }

  RunSummary run() {
    start_ = now_seconds();
    if (shared_) {
      beat();
      refresh();
    } else {
      trials_ = store_.trials();
      horizon_ = SyncHorizon::load(store_, static_cast<int64_t>(trials_.size()),
                                   static_cast<int64_t>(slots_.size()));
      // The run lock is ours, so no other process runs these: their coordinator was killed.
      for (TrialRecord& t : trials_) {
        if (t.state != TrialState::Running) continue;
        requeue(t.number, "was RUNNING when the previous run stopped; same parameters and seed");
        say("trial " + std::to_string(t.number) + " was interrupted: re-queued");
      }
    }
    RunSummary summary;
    for (;;) {
      if (budget_.wall_s > 0 && now_seconds() - start_ > budget_.wall_s) {
        stop_all_for_wall_budget();
        summary.stopped_by = "wall-clock budget";
        break;
      }
      if (shared_ && now_seconds() - last_beat_ >= shared_->interval_s) beat();
      for (Slot& s : slots_) {
        if (s.trial >= 0) continue;
        if (shared_ && s.pid < 0) spawn(s);  // before claiming: a broken command claims nothing
        if (auto n = next_trial(s)) dispatch(s, *n);
      }
      bool busy = false;
      for (const Slot& s : slots_) busy |= s.trial >= 0;
      if (!busy && (!shared_ || study_finished())) {
        summary.stopped_by = suggestions_.exhausted() ? "sampler exhausted" : "trial budget";
        break;
      }
      wait_for_workers();
      check_timeouts();
    }
    for (Slot& s : slots_) stop_worker(s, /*kill=*/false);
    if (shared_) {
      refresh();
      store_.remove_worker(me_.id);
    }
    // Record the sampler states after the last trials.
    suggestions_.tell_up_to(store_, trials_, static_cast<int64_t>(trials_.size()));
    for (const TrialRecord& t : trials_) {
      summary.complete += t.state == TrialState::Complete;
      summary.pruned += t.state == TrialState::Pruned;
      summary.failed += t.state == TrialState::Failed;
      summary.waiting += t.state == TrialState::Waiting;
    }
    return summary;
  }

 private:
  void say(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  // The next trial to run: a WAITING one, else a new suggestion when the budget and the
  // determinism horizon allow. nullopt means "nothing now". A worker of a shared study claims it
  // (already RUNNING for this slot when returned).
  std::optional<int64_t> next_trial(const Slot& slot) {
    if (shared_) {
      if (now_seconds() < next_claim_at_) return std::nullopt;
      const Claimant who{me_.id, slot.device, options_.version, store_.live_slots(shared_->expiry_s)};
      const std::optional<int64_t> n = claim_trial(store_, suggestions_, who, budget_.trials, trials_);
      if (!n) next_claim_at_ = now_seconds() + kClaimRetryS;  // spare the study's write lock
      refresh();
      return n;
    }
    for (const TrialRecord& t : trials_)
      if (t.state == TrialState::Waiting) return t.number;
    std::optional<TrialRecord> t = suggestions_.next(store_, trials_, horizon_, budget_.trials);
    if (!t) return std::nullopt;
    store_.insert_trial(*t);
    trials_.push_back(*t);
    return t->number;
  }

  // A shared study: this process's view of it, read again (other workers write it too).
  void refresh() {
    reread_unfinished(store_, trials_);
    horizon_ = SyncHorizon::load(store_, static_cast<int64_t>(trials_.size()), 1);
  }

  // Before the pruner answers trial n's report: whether n is still this worker's, and the
  // results of its peers — the trials below its horizon — that were unfinished when last read.
  // Nothing else: the trials above the horizon, running elsewhere, cannot change the answer.
  void refresh_for_report(int64_t n) {
    reread_unfinished(store_, trials_, std::min(n, horizon_.of(n)));
    if (std::optional<TrialRecord> mine = store_.trial(n)) trials_[n] = std::move(*mine);
  }

  // A worker's heartbeat, and the re-queue of the trials whose workers stopped theirs.
  void beat() {
    store_.heartbeat(me_);
    last_beat_ = now_seconds();
    for (const int64_t n : requeue_orphans(store_, shared_->expiry_s, budget_.retries))
      say("trial " + std::to_string(n) + ": its worker stopped heartbeating; re-queued (or failed after " +
          std::to_string(budget_.retries) + " retries)");
  }

  // A shared study is done when no trial can be created and none runs or waits anywhere.
  bool study_finished() const {
    if (static_cast<int64_t>(trials_.size()) < budget_.trials && !suggestions_.exhausted()) return false;
    for (const TrialRecord& t : trials_)
      if (t.state == TrialState::Running || t.state == TrialState::Waiting) return false;
    return true;
  }

  void spawn(Slot& slot) {
    int to[2], from[2];
    AN_CHECK(::pipe2(to, O_CLOEXEC) == 0 && ::pipe2(from, O_CLOEXEC) == 0)
        << "pipe: " << std::strerror(errno);
    // Everything the child needs is built before fork: only async-signal-safe calls after it.
    std::vector<std::string> args = options_.worker_command;
    args.insert(args.end(), {"--in-fd", "3", "--out-fd", "4"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // CPU workers share the cores; GPU workers see their own card only.
    const bool gpu = slot.device.rfind("cuda:", 0) == 0;
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string entry(*e);
      if (entry.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) continue;
      if (!gpu && entry.rfind("OMP_NUM_THREADS=", 0) == 0) continue;
      env.push_back(entry);
    }
    if (gpu) {
      env.push_back("CUDA_VISIBLE_DEVICES=" + slot.device.substr(5));
    } else {
      const long cores = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
      const long share = std::max<long>(1, cores / static_cast<long>(slots_.size()));
      env.push_back("OMP_NUM_THREADS=" + std::to_string(share));
    }
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    AN_CHECK(pid >= 0) << "fork: " << std::strerror(errno);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed coordinator takes its workers along
      if (::getppid() != parent) ::_exit(1);
      const int in = ::fcntl(to[0], F_DUPFD, 10), out = ::fcntl(from[1], F_DUPFD, 10);
      ::dup2(in, 3);  // dup2 clears close-on-exec: fds 3 and 4 survive the exec
      ::dup2(out, 4);
      ::dup2(2, 1);   // stray prints must not corrupt the protocol pipe
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    slot.pid = pid;
    slot.to = to[1];
    slot.from = from[0];
    slot.buffer.clear();
    // Wait for "ready": a worker command that cannot start must not eat trials.
    pollfd p{slot.from, POLLIN, 0};
    for (;;) {
      const int r = ::poll(&p, 1, 60000);
      if (r < 0 && errno == EINTR) continue;
      std::vector<Json> lines;
      if (r <= 0 || !read_lines(slot, lines) || lines.empty()) {
        std::string cmd;
        for (const std::string& a : options_.worker_command) cmd += a + " ";
        int status = 0;
        ::kill(slot.pid, SIGKILL);
        ::waitpid(slot.pid, &status, 0);
        close_fds(slot);
        AN_THROW() << "cannot start worker `" << cmd << "`: " << describe_status(status);
      }
      if (lines.front().value("op", "") == "ready") break;
    }
  }

  // Reads what is available; false at end of file. Complete lines are parsed into `out`.
  bool read_lines(Slot& slot, std::vector<Json>& out) {
    char chunk[8192];
    const ssize_t n = ::read(slot.from, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    slot.buffer.append(chunk, static_cast<size_t>(n));
    size_t eol;
    while ((eol = slot.buffer.find('\n')) != std::string::npos) {
      out.push_back(Json::parse(slot.buffer.substr(0, eol)));
      slot.buffer.erase(0, eol + 1);
    }
    return true;
  }

  void close_fds(Slot& slot) {
    if (slot.to >= 0) ::close(slot.to);
    if (slot.from >= 0) ::close(slot.from);
    slot.to = slot.from = -1;
    slot.pid = -1;
  }

  void stop_worker(Slot& slot, bool kill) {
    if (slot.pid < 0) return;
    if (kill) {
      ::kill(slot.pid, SIGKILL);
    } else {
      const std::string bye = Json{{"op", "exit"}}.dump() + "\n";
      if (::write(slot.to, bye.data(), bye.size()) < 0) ::kill(slot.pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(slot.pid, &status, 0);
    close_fds(slot);
  }

  bool send(Slot& slot, const Json& message) {
    const std::string line = message.dump() + "\n";
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(slot.to, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  void dispatch(Slot& slot, int64_t number) {
    if (slot.pid < 0) spawn(slot);
    TrialRecord& t = trials_[number];
    if (!shared_) {  // a claimed trial is RUNNING already
      t.state = TrialState::Running;
      t.attempts += 1;
      t.device = slot.device;
      t.version = options_.version;
      t.started_at = now_seconds();
      t.reason.clear();
      store_.update_trial(t);
    }
    slot.trial = number;
    slot.started = t.started_at;
    slot.prune_sent = false;
    slot.prune_reason.clear();
    slot.losses.clear();
    const std::string device = slot.device.rfind("cuda:", 0) == 0 ? "cuda:0" : "cpu";
    say("trial " + std::to_string(number) + " started on " + slot.device + " " + t.params.dump());
    if (!send(slot, {{"op", "trial"}, {"number", number}, {"seed", t.seed}, {"attempt", t.attempts},
                     {"device", device}, {"params", t.params}, {"workload", config_.workload}}))
      worker_died(slot);
  }

  void wait_for_workers() {
    std::vector<pollfd> fds;
    std::vector<Slot*> owners;
    for (Slot& s : slots_)
      if (s.pid >= 0 && s.trial >= 0) {
        fds.push_back({s.from, POLLIN, 0});
        owners.push_back(&s);
      }
    const int r = ::poll(fds.data(), fds.size(), 100);
    if (r <= 0) return;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Slot& slot = *owners[i];
      std::vector<Json> lines;
      const bool open = read_lines(slot, lines);
      for (const Json& m : lines)
        if (slot.trial >= 0) handle(slot, m);
      if (!open) worker_died(slot);
    }
  }

  void handle(Slot& slot, const Json& m) {
    const std::string op = m.value("op", "");
    const int64_t n = slot.trial;
    if (op == "report" && shared_) {
      refresh_for_report(n);
      if (trials_[n].owner != me_.id || trials_[n].state != TrialState::Running) {
        say("trial " + std::to_string(n) + " was re-queued while this worker ran it (heartbeat expired): stopping it");
        slot.prune_sent = true;  // finish() drops the result: the trial is no longer ours
        if (!send(slot, {{"op", "prune"}})) worker_died(slot);
        return;
      }
    }
    if (op == "report") {
      const Json metrics = m.value("metrics", Json::object());
      const Intermediate r{m["step"].get<int64_t>(), json_number(m["value"]),
                           metrics.is_object() ? metrics : Json::object()};
      store_.add_intermediate(n, r);
      trials_[n].intermediate.push_back(r);
      const double loss = config_.direction == Direction::Minimize ? r.value : -r.value;
      slot.losses.push_back({r.step, loss});
      const PruneDecision d = pruner_->decide(slot.losses, horizon_.peers(trials_, n), config_.direction,
                                              m.value("last_step", int64_t{0}), n);
      if (d.prune) {
        slot.prune_sent = true;
        slot.prune_reason = d.reason;
      }
      if (!send(slot, {{"op", d.prune ? "prune" : "continue"}})) worker_died(slot);
    } else if (op == "done") {
      const double value = json_number(m["value"]);
      const Json metrics = m.value("metrics", Json::object());
      slot.trial = -1;
      if (slot.prune_sent) {
        finish(n, TrialState::Pruned, value, metrics, slot.prune_reason);
      } else if (!std::isfinite(value)) {
        finish(n, TrialState::Failed, value, metrics, "the objective is not finite");
      } else {
        finish(n, TrialState::Complete, value, metrics, "");
      }
    } else if (op == "error") {
      slot.trial = -1;
      finish(n, TrialState::Failed, NAN, Json::object(), "error: " + m.value("message", std::string("?")));
    }
  }

  void worker_died(Slot& slot) {
    if (slot.pid < 0) return;  // already handled (never kill(-1, ...))
    int status = 0;
    ::kill(slot.pid, SIGKILL);  // it closed its pipe; make sure it is gone
    ::waitpid(slot.pid, &status, 0);
    const std::string why = describe_status(status);
    close_fds(slot);
    const int64_t n = slot.trial;
    slot.trial = -1;
    if (n < 0) return;
    const int deaths = worker_deaths(store_, n) + 1;
    store_.add_event(n, "worker_died", "worker " + why + " on " + slot.device);
    if (deaths <= budget_.retries) {
      requeue(n, "after its worker " + why);
      say("trial " + std::to_string(n) + ": worker " + why + "; re-queued");
    } else {
      finish(n, TrialState::Failed, NAN, Json::object(),
             "worker died " + std::to_string(deaths) + " times (last: " + why + ")");
    }
  }

  void check_timeouts() {
    if (budget_.trial_s <= 0) return;
    const double now = now_seconds();
    for (Slot& s : slots_) {
      if (s.trial < 0 || now - s.started <= budget_.trial_s) continue;
      const int64_t n = s.trial;
      s.trial = -1;
      stop_worker(s, /*kill=*/true);
      std::ostringstream why;
      why << "timeout: ran longer than the per-trial budget of " << budget_.trial_s << " s";
      finish(n, TrialState::Failed, NAN, Json::object(), why.str());
    }
  }

  // Back to WAITING with its reports dropped: it runs again with the same parameters and seed.
  void requeue(int64_t n, const std::string& why) {
    TrialRecord& t = trials_[n];
    if (!requeue_trial(store_, t, why, owner_guard())) return;
    t.state = TrialState::Waiting;
    t.owner.clear();
    t.intermediate.clear();
  }

  // A worker writes a trial only while it owns it.
  std::optional<std::string> owner_guard() const {
    return shared_ ? std::optional<std::string>(me_.id) : std::nullopt;
  }

  void stop_all_for_wall_budget() {
    for (Slot& s : slots_) {
      if (s.trial < 0) continue;
      const int64_t n = s.trial;
      s.trial = -1;
      stop_worker(s, /*kill=*/true);
      requeue(n, "stopped by the wall-clock budget; runs again on resume");
    }
    say("wall-clock budget reached: stopping");
  }

  void finish(int64_t n, TrialState state, double value, const Json& metrics, const std::string& reason) {
    TrialRecord t = trials_[n];  // kept only once stored (a worker's copy must not run ahead)
    t.state = state;
    t.value = std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
    t.metrics = metrics;
    t.reason = reason;
    t.finished_at = now_seconds();
    if (shared_) {
      t.owner = me_.id;
      if (!store_.update_owned_trial(t, me_.id)) {
        say("trial " + std::to_string(n) + " was re-queued while this worker ran it: its result is dropped");
        return;
      }
    } else {
      store_.update_trial(t);
    }
    trials_[n] = t;
    std::ostringstream line;
    line << "trial " << n << " " << trial_state_name(state);
    if (t.value) line << " value " << *t.value;
    if (!reason.empty()) line << " (" << reason << ")";
    line << " in " << std::fixed;
    line.precision(2);
    line << (t.finished_at - t.started_at) << " s";
    say(line.str());
  }

  static constexpr double kClaimRetryS = 0.25;  // a worker with nothing to claim asks again after
  StudyStore store_;
  RunOptions options_;
  std::optional<Heartbeat> shared_;
  StudyConfig config_;
  Suggestions suggestions_;
  Budget budget_;
  std::unique_ptr<Pruner> pruner_;
  std::vector<TrialRecord> trials_;  // index == trial number
  std::vector<Slot> slots_;
  SyncHorizon horizon_;
  WorkerInfo me_;  // a worker's heartbeat row
  double start_ = 0, last_beat_ = 0, next_claim_at_ = 0;
};

}  // namespace

RunSummary run_study(const std::string& study_path, const RunOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead worker's pipe must give EPIPE, not kill us
  Coordinator coordinator(study_path, options, std::nullopt);
  return coordinator.run();
}

RunSummary work_on_study(const std::string& study, const RunOptions& options, const Heartbeat& heartbeat) {
  ::signal(SIGPIPE, SIG_IGN);
  Coordinator worker(study, options, heartbeat);
  return worker.run();
}

std::vector<std::string> plan_slots(const SlotRequest& request) {
  if (request.device == "cpu") return plan_slots(request, {});
  const std::vector<CudaDeviceInfo> gpus = cuda_devices();
  std::string why;
  AN_CHECK(!gpus.empty() && cuda_available(&why)) << "no CUDA device for the workers: " << why;
  return plan_slots(request, gpus);
}

std::vector<std::string> plan_slots(const SlotRequest& request, const std::vector<CudaDeviceInfo>& gpus) {
  const std::string& device = request.device;
  AN_CHECK(request.workers >= 0) << "--workers must be >= 1 (or 0: as many as the device plan gives)";
  std::vector<std::string> slots;
  if (device == "cpu") {
    slots.assign(static_cast<size_t>(std::max(1, request.workers)), "cpu");
    return slots;
  }
  AN_CHECK(device.rfind("cuda", 0) == 0) << "--device must be cpu, cuda or cuda:I,J,..., got '" << device << "'";
  std::vector<size_t> chosen;
  if (device == "cuda") {
    for (size_t i = 0; i < gpus.size(); ++i) chosen.push_back(i);
  } else {
    AN_CHECK(device.size() > 5 && device[4] == ':') << "bad --device '" << device << "'";
    std::stringstream list(device.substr(5));
    for (std::string item; std::getline(list, item, ',');) {
      int i = -1;
      try {
        i = std::stoi(item);
      } catch (const std::exception&) {
        AN_THROW() << "bad --device '" << device << "': '" << item << "' is not a GPU index";
      }
      AN_CHECK(i >= 0 && i < static_cast<int>(gpus.size())) << "no CUDA device " << i;
      chosen.push_back(static_cast<size_t>(i));
    }
  }
  for (size_t i : chosen) {
    int k = std::max(1, request.per_device);
    if (request.memory_gib > 0) {
      const double total_gib = static_cast<double>(gpus[i].total_memory) / (1 << 30);
      k = std::max(1, static_cast<int>(total_gib / request.memory_gib));
    }
    for (int j = 0; j < k; ++j) slots.push_back("cuda:" + std::to_string(gpus[i].index));
  }
  if (request.workers > 0 && static_cast<int>(slots.size()) > request.workers)
    slots.resize(static_cast<size_t>(request.workers));
  return slots;
}

std::string self_executable() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  AN_CHECK(n > 0) << "cannot read /proc/self/exe: " << std::strerror(errno);
  return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace autonet::hpsearch
