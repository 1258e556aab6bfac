// The coordinator ↔ worker protocol: one JSON object per line over a pipe pair.
//   worker → coordinator: {"op":"ready","pid":P}
//                         {"op":"report","step":S,"value":V,"metrics":{...},"last_step":E}
//                                                                 then waits (E: 0 = unknown)
//                         {"op":"done","value":V,"metrics":{...}}
//                         {"op":"error","message":"..."}                    (the trial FAILED)
//   coordinator → worker: {"op":"trial","number":N,"seed":S,"attempt":A,"device":"cpu",
//                          "params":{...},"workload":{...}}
//                         {"op":"continue"} | {"op":"prune"}   (answer to a report)
//                         {"op":"exit"}
// A worker that dies (EOF on its pipe) is noticed by the coordinator, which re-queues its trial.
#pragma once
#include <optional>
#include <string>

#include "hpsearch/json.h"

namespace autonet::hpsearch {

// Line-oriented JSON over a pair of file descriptors (blocking).
class JsonLines {
 public:
  JsonLines(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}
  void send(const Json& message);  // throws when the other side is gone
  std::optional<Json> receive();   // nullopt at end of file

 private:
  int in_, out_;
  std::string buffer_;
};

// The worker loop: serves trials until told to exit or its input closes. Returns an exit status.
int run_worker(int in_fd, int out_fd);

}  // namespace autonet::hpsearch
