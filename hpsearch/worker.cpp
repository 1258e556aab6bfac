#include "hpsearch/worker.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>

#include "hpsearch/workload.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

void JsonLines::send(const Json& message) {
  const std::string line = message.dump() + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(out_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    AN_CHECK(n > 0) << "hpsearch pipe closed while sending";
    done += static_cast<size_t>(n);
  }
}

std::optional<Json> JsonLines::receive() {
  for (;;) {
    const size_t eol = buffer_.find('\n');
    if (eol != std::string::npos) {
      const std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      return Json::parse(line);
    }
    char chunk[4096];
    const ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

namespace {

// NaN and infinity are not JSON: they travel as null (the coordinator reads null as NaN).
Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

class PipeReporter : public Reporter {
 public:
  explicit PipeReporter(JsonLines& channel) : channel_(channel) {}
  bool report(int64_t step, double value, const Json& metrics, int64_t last_step) override {
    channel_.send({{"op", "report"},
                   {"step", step},
                   {"value", number_or_null(value)},
                   {"metrics", metrics},
                   {"last_step", last_step}});
    const std::optional<Json> answer = channel_.receive();
    AN_CHECK(answer) << "coordinator went away during a report";
    pruned_ = answer->value("op", "") == "prune";
    return pruned_;
  }
  bool pruned() const { return pruned_; }

 private:
  JsonLines& channel_;
  bool pruned_ = false;
};

}  // namespace

int run_worker(int in_fd, int out_fd) {
  JsonLines channel(in_fd, out_fd);
  channel.send({{"op", "ready"}, {"pid", static_cast<int64_t>(::getpid())}});
  std::string cached_config;
  std::unique_ptr<TrialWorkload> workload;  // kept across trials: data sets load once per worker
  for (;;) {
    const std::optional<Json> message = channel.receive();
    if (!message || message->value("op", "") == "exit") return 0;
    if (message->value("op", "") != "trial") continue;
    TrialContext ctx;
    ctx.number = (*message)["number"].get<int64_t>();
    ctx.seed = (*message)["seed"].get<uint64_t>();
    ctx.attempt = (*message)["attempt"].get<int>();
    ctx.device = (*message)["device"].get<std::string>();
    try {
      const std::string config = (*message)["workload"].dump();
      if (!workload || config != cached_config) {
        workload = make_workload((*message)["workload"]);
        cached_config = config;
      }
      PipeReporter reporter(channel);
      const TrialResult result = workload->run((*message)["params"], ctx, reporter);
      channel.send({{"op", "done"}, {"value", number_or_null(result.value)}, {"metrics", result.metrics}});
    } catch (const Error& e) {  // the message users read, without the source location
      std::fflush(stdout);
      channel.send({{"op", "error"}, {"message", e.message()}});
    } catch (const std::exception& e) {
      std::fflush(stdout);
      channel.send({{"op", "error"}, {"message", e.what()}});
    }
  }
}

}  // namespace autonet::hpsearch
