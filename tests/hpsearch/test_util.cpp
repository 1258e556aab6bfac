// The shared test helpers of test_util.h that need a body.
#include "test_util.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "hpsearch/postgres_connection.h"
#include "hpsearch/sql.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace testing {

namespace {

// The server URL with a database name: postgresql://user@host:port/NAME or, for a socket,
// postgresql://user@/NAME?host=FOLDER.
std::string database_url(const std::string& server, const std::string& name) {
  const size_t query = server.find('?');
  if (query == std::string::npos) return server + "/" + name;
  return server.substr(0, query) + "/" + name + server.substr(query);
}

}  // namespace

pid_t start_coordinator(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string exe = self_executable();
    ::execl(exe.c_str(), exe.c_str(), "--hpsearch-run", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool wait_for_report(const std::string& path, int64_t number) {
  for (int i = 0; i < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    try {
      const auto t = StudyStore::open(path, true).trial(number);
      if (t && t->state == TrialState::Running && !t->intermediate.empty()) return true;
    } catch (const Error&) {  // the file may be mid-creation
    }
  }
  return false;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ScratchDatabase::ScratchDatabase() {
  static std::atomic<int> counter{0};
  name_ = "autonet_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  connect_postgres(database_url(server(), "postgres"))->exec("CREATE DATABASE " + name_);
  url_ = database_url(server(), name_);
}

ScratchDatabase::~ScratchDatabase() {
  try {
    connect_postgres(database_url(server(), "postgres"))->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const Error&) {  // a destructor never throws; the server goes away with the run
  }
}

}  // namespace testing

}  // namespace autonet::hpsearch
