#include "report/graphviz.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

extern char** environ;

namespace autonet::report {
namespace {

// Closes a file descriptor when it goes out of scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Runs `argv` (argv[0] looked up in PATH) with stdin and stderr on /dev/null; its standard output
// and exit status, or nullopt when it cannot be started.
std::optional<std::pair<std::string, int>> run_capturing_stdout(std::vector<std::string> argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  Descriptor read_end{fds[0]}, write_end{fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) return std::nullopt;  // not installed (ENOENT) or not runnable
  ::close(write_end.fd);
  write_end.fd = -1;  // so that reading ends when the child exits

  std::string output;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(read_end.fd, buffer, sizeof buffer);
    if (n > 0) output.append(buffer, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return std::make_pair(std::move(output), exit_code);
}

}  // namespace

std::optional<std::string> graphviz_svg(const std::filesystem::path& dot_file) {
  // A relative name starting with '-' would read as an option.
  const std::string name = dot_file.string();
  const std::string argument = name.starts_with('-') ? "./" + name : name;
  const auto result = run_capturing_stdout({"dot", "-Tsvg", argument});
  if (!result || result->second != 0 || result->first.empty()) return std::nullopt;
  return result->first;
}

}  // namespace autonet::report
