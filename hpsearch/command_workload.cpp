#include "hpsearch/command_workload.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <thread>

#include "hpsearch/options.h"
#include "hpsearch/trial.h"
#include "runtime/error.h"

extern char** environ;

namespace autonet::hpsearch {

namespace {

using Clock = std::chrono::steady_clock;

struct CommandSpec {
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;
  double grace_s = 5;
  double timeout_s = 0;

  static CommandSpec from_json(const Json& config) {
    OptionReader r(config, "workload 'command'");
    CommandSpec s;
    s.argv = r.strings("argv");
    s.cwd = r.text("cwd", "");
    s.env = r.string_table("env");
    s.grace_s = r.number("grace_s", 5);
    s.timeout_s = r.number("timeout_s", 0);
    r.check_all_read();
    AN_CHECK(!s.argv.empty() && !s.argv[0].empty())
        << "workload 'command': \"argv\" must name the program, e.g. [\"python3\", \"train.py\"]";
    AN_CHECK(s.grace_s >= 0) << "workload 'command': \"grace_s\" must be >= 0, got " << s.grace_s;
    AN_CHECK(s.timeout_s >= 0) << "workload 'command': \"timeout_s\" must be >= 0 (0: none), got " << s.timeout_s;
    return s;
  }

  std::string shown() const {
    std::string out;
    for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
  }
};

// AUTONET_PARAM_<NAME>: upper-cased, anything but a letter or digit as '_'.
std::string param_variable(const std::string& name) {
  std::string v = "AUTONET_PARAM_";
  for (const unsigned char c : name) v += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return v;
}

// A parameter as text: strings as they are, numbers and booleans as JSON writes them.
std::string param_text(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The last lines of a stream, for failure reasons.
class Tail {
 public:
  void add(const std::string& line) {
    lines_.push_back(line.size() > kWidth ? line.substr(0, kWidth) + "…" : line);
    if (lines_.size() > kLines) lines_.pop_front();
  }
  std::string text() const {
    if (lines_.empty()) return "(stderr was empty)";
    std::string out = "stderr tail:";
    for (const std::string& l : lines_) out += "\n  " + l;
    return out;
  }

 private:
  static constexpr size_t kLines = 12, kWidth = 300;
  std::deque<std::string> lines_;
};

// Splits a byte stream into lines; a last line without '\n' comes out at the end.
class LineBuffer {
 public:
  void append(const char* data, size_t n) { buffer_.append(data, n); }
  std::optional<std::string> next(bool at_end) {
    const size_t eol = buffer_.find('\n');
    if (eol == std::string::npos) {
      if (!at_end || buffer_.empty()) return std::nullopt;
      std::string last = std::move(buffer_);
      buffer_.clear();
      return last;
    }
    std::string line = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 1);
    return line;
  }

 private:
  std::string buffer_;
};

// The trial's parameters in a temporary file (the program's stdin and AUTONET_TRIAL_PARAMS),
// removed with this object.
class ParamsFile {
 public:
  ParamsFile(const Json& params, int64_t trial) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/autonet-trial-" + std::to_string(trial) + "-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    AN_CHECK(fd >= 0) << "workload 'command': cannot create the parameters file " << pattern << ": "
                      << std::strerror(errno);
    path_ = name.data();
    const std::string text = params.dump() + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    AN_CHECK(written) << "workload 'command': cannot write " << path_ << ": " << std::strerror(errno);
  }
  ~ParamsFile() { ::unlink(path_.c_str()); }
  ParamsFile(const ParamsFile&) = delete;
  ParamsFile& operator=(const ParamsFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + (name ? name : "?") + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// The program, running in its own process group with its stdout and stderr on pipes. Destroying
// it kills the group: a trial never leaves a process behind.
class ChildProcess {
 public:
  ChildProcess(const CommandSpec& spec, const std::vector<std::string>& env, const std::string& stdin_path) {
    int out[2], err[2], exec_error[2];
    AN_CHECK(::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0 && ::pipe2(exec_error, O_CLOEXEC) == 0)
        << "workload 'command': pipe: " << std::strerror(errno);
    // Everything the child needs is built before fork: only async-signal-safe calls after it.
    std::vector<std::string> args = spec.argv, vars = env;
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : vars) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    AN_CHECK(pid_ >= 0) << "workload 'command': fork: " << std::strerror(errno);
    if (pid_ == 0) {
      ::setpgid(0, 0);                     // its own group: terminating it reaches its children
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed trial process takes the program along
      if (::getppid() != parent) ::_exit(127);
      const int in = ::open(stdin_path.c_str(), O_RDONLY);
      if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0 ||
          (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0)) {
        const int e = errno;
        (void)!::write(exec_error[1], &e, sizeof e);
        ::_exit(127);
      }
      ::execvpe(argv[0], argv.data(), envp.data());
      const int e = errno;
      (void)!::write(exec_error[1], &e, sizeof e);
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also here: no race with a kill of the group before the child ran
    ::close(out[1]);
    ::close(err[1]);
    ::close(exec_error[1]);
    out_ = out[0];
    err_ = err[0];
    int e = 0;
    const ssize_t n = ::read(exec_error[0], &e, sizeof e);  // EOF once exec succeeded
    ::close(exec_error[0]);
    if (n == static_cast<ssize_t>(sizeof e)) {
      kill_and_reap();
      ::close(out_);
      ::close(err_);
      AN_THROW() << "workload 'command': cannot run `" << spec.shown() << "`"
                 << (spec.cwd.empty() ? "" : " in '" + spec.cwd + "'") << ": " << std::strerror(e);
    }
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
    ::fcntl(err_, F_SETFL, O_NONBLOCK);
  }
  ~ChildProcess() {
    kill_and_reap();
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `wait_ms` for output, then reads what is there into the two buffers.
  void pump(LineBuffer& out, LineBuffer& err, int wait_ms) {
    std::vector<pollfd> fds;
    if (out_open_) fds.push_back({out_, POLLIN, 0});
    if (err_open_) fds.push_back({err_, POLLIN, 0});
    if (fds.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    } else if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) {
      AN_THROW() << "workload 'command': poll: " << std::strerror(errno);
    }
    drain(out_, out_open_, out);
    drain(err_, err_open_, err);
  }

  // Whether the program has exited (its group may live on; it is not reaped yet).
  bool exited() {
    if (status_) return true;
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_;
  }

  // SIGTERM to the group, SIGKILL after `grace_s`; output meanwhile goes to the buffers.
  void terminate(double grace_s, LineBuffer& out, LineBuffer& err) {
    if (status_) return;
    ::kill(-pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::duration<double>(grace_s);
    while (!exited() && Clock::now() < deadline) pump(out, err, 10);
    kill_and_reap();
  }

  // Its wait status, once it has exited: what is left of its group is killed.
  int reap() {
    kill_and_reap();
    return *status_;
  }

 private:
  void drain(int fd, bool& open, LineBuffer& into) {
    char chunk[8192];
    while (open) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        into.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        open = false;
      } else if (errno != EINTR) {
        return;  // EAGAIN: nothing more for now
      }
    }
  }

  void kill_and_reap() {
    if (status_ || pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);  // the unreaped leader keeps the group id from being reused
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool out_open_ = true, err_open_ = true;
  std::optional<int> status_;
};

// The program's environment: ours, the spec's, then the trial's (which win).
std::vector<std::string> trial_environment(const CommandSpec& spec, const Json& params, const TrialContext& ctx,
                                           const std::string& params_path) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.env) vars[k] = v;
  vars["AUTONET_TRIAL_NUMBER"] = std::to_string(ctx.number);
  vars["AUTONET_TRIAL_SEED"] = std::to_string(ctx.seed);
  vars["AUTONET_TRIAL_ATTEMPT"] = std::to_string(ctx.attempt);
  vars["AUTONET_DEVICE"] = ctx.device;
  vars["AUTONET_TRIAL_PARAMS"] = params_path;
  for (const auto& [name, value] : params.items()) vars[param_variable(name)] = param_text(value);
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// What the program said on stdout: its reports and its final value, checked line by line.
class Protocol {
 public:
  enum class Kind { Log, Report, Final };

  // Parses stdout line `number` (1-based); throws naming it when it is a broken message.
  Kind read(const std::string& line, int64_t number) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] != '{') return Kind::Log;
    Json m;
    try {
      m = Json::parse(line);
    } catch (const std::exception& e) {
      fail(number, line, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!m.is_object()) fail(number, line, "expected a JSON object");
    Json metrics = Json::object();
    if (m.contains("metrics")) {
      metrics = m["metrics"];
      if (!metrics.is_object()) fail(number, line, "\"metrics\" must be an object");
    }
    if (m.contains("final")) {
      for (const auto& [k, _] : m.items())
        if (k != "final" && k != "metrics") fail(number, line, "unknown field \"" + k + "\" in a final line");
      final_ = {value_of(m["final"], number, line, "final"), metrics};
      return Kind::Final;
    }
    if (!m.contains("step") || !m.contains("value"))
      fail(number, line, "a report needs \"step\" and \"value\" (or a result, \"final\")");
    for (const auto& [k, _] : m.items())
      if (k != "step" && k != "value" && k != "metrics" && k != "last_step")
        fail(number, line, "unknown field \"" + k + "\" in a report");
    if (!m["step"].is_number_integer() || m["step"].get<int64_t>() < 1)
      fail(number, line, "\"step\" must be an integer >= 1");
    const int64_t step = m["step"].get<int64_t>();
    if (last_ && step <= last_->step)
      fail(number, line, "step " + std::to_string(step) + " after step " + std::to_string(last_->step) +
                             " (steps must increase)");
    if (m.contains("last_step") && (!m["last_step"].is_number_integer() || m["last_step"].get<int64_t>() < 0))
      fail(number, line, "\"last_step\" must be an integer >= 0");
    last_ = Intermediate{step, value_of(m["value"], number, line, "value"), metrics};
    last_step_ = m.value("last_step", int64_t{0});
    return Kind::Report;
  }

  const Intermediate& last_report() const { return *last_; }
  int64_t last_step() const { return last_step_; }

  // The trial's result: the final line, else the last report; nullopt when it gave neither.
  std::optional<TrialResult> result() const {
    if (final_) return final_;
    if (last_) return TrialResult{last_->value, last_->metrics};
    return std::nullopt;
  }

 private:
  // A number, or null for NaN (JSON has no NaN; the pruner treats it as a divergence).
  static double value_of(const Json& v, int64_t number, const std::string& line, const char* field) {
    if (v.is_null()) return NAN;
    if (!v.is_number()) fail(number, line, std::string("\"") + field + "\" must be a number (or null)");
    return v.get<double>();
  }
  [[noreturn]] static void fail(int64_t number, const std::string& line, const std::string& why) {
    AN_THROW() << "stdout line " << number << ": " << why << ": "
               << (line.size() > 200 ? line.substr(0, 200) + "…" : line);
  }

  std::optional<Intermediate> last_;
  int64_t last_step_ = 0;
  std::optional<TrialResult> final_;
};

class CommandWorkload : public TrialWorkload {
 public:
  explicit CommandWorkload(const Json& config) : spec_(CommandSpec::from_json(config)) {}

  TrialResult run(const Json& params, const TrialContext& ctx, Reporter& reporter) override {
    const ParamsFile file(params, ctx.number);
    ChildProcess child(spec_, trial_environment(spec_, params, ctx, file.path()), file.path());
    const std::string prefix = "trial " + std::to_string(ctx.number) + ": ";
    const auto started = Clock::now();
    LineBuffer out, err;
    Protocol protocol;
    Tail tail;
    int64_t line_number = 0;
    auto pass_stderr = [&](bool at_end) {
      while (const auto line = err.next(at_end)) {
        tail.add(*line);
        std::fprintf(stderr, "%s%s\n", prefix.c_str(), line->c_str());
      }
    };
    // Handles stdout's complete lines; true when the trial must stop (pruned).
    auto handle_stdout = [&](bool at_end) {
      while (const auto line = out.next(at_end)) {
        Protocol::Kind kind;
        try {
          kind = protocol.read(*line, ++line_number);
        } catch (const Error& e) {
          child.terminate(spec_.grace_s, out, err);
          pass_stderr(true);
          AN_THROW() << "`" << spec_.shown() << "`: " << e.message();
        }
        if (kind == Protocol::Kind::Log) std::fprintf(stderr, "%s%s\n", prefix.c_str(), line->c_str());
        if (kind != Protocol::Kind::Report) continue;
        const Intermediate& r = protocol.last_report();
        if (reporter.report(r.step, r.value, r.metrics, protocol.last_step())) return true;
      }
      return false;
    };
    for (;;) {
      const bool done = child.exited();  // before reading: what it wrote is in the pipes by now
      child.pump(out, err, done ? 0 : 100);
      pass_stderr(done);
      if (handle_stdout(done)) {
        child.terminate(spec_.grace_s, out, err);
        pass_stderr(true);
        const Intermediate& r = protocol.last_report();
        return {r.value, r.metrics};
      }
      if (done) break;
      const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
      if (spec_.timeout_s > 0 && elapsed > spec_.timeout_s) {
        child.terminate(spec_.grace_s, out, err);
        pass_stderr(true);
        AN_THROW() << "timeout: `" << spec_.shown() << "` ran longer than its timeout_s of " << spec_.timeout_s
                   << " s; " << tail.text();
      }
    }
    const int status = child.reap();
    AN_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "`" << spec_.shown() << "` " << describe_exit(status) << "; " << tail.text();
    const std::optional<TrialResult> result = protocol.result();
    AN_CHECK(result) << "`" << spec_.shown() << "` exited without a value: print {\"final\": V} or "
                     << "{\"step\": S, \"value\": V} lines on stdout; " << tail.text();
    return *result;
  }

 private:
  CommandSpec spec_;
};

}  // namespace

std::unique_ptr<TrialWorkload> make_command_workload(const Json& config) {
  return std::make_unique<CommandWorkload>(config);
}

void check_command_workload(const Json& config, const Space& space) {
  CommandSpec::from_json(config);
  std::map<std::string, std::string> seen;
  for (const ParamSpec& p : space.params()) {
    const std::string var = param_variable(p.name);
    AN_CHECK(!seen.count(var)) << "workload 'command': parameters '" << seen[var] << "' and '" << p.name
                               << "' would both be " << var;
    seen[var] = p.name;
  }
}

}  // namespace autonet::hpsearch
