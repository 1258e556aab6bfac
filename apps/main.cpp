// The `autonet` command line: a thin main. Library code throws autonet::Error; only here do we
// turn errors into a message and an exit status: "autonet: error: <what>: <problem>", with the
// source location and the failed condition only for developers (--verbose or AUTONET_DEBUG=1).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string>

#include "apps/commands.h"
#include "runtime/cpu_isa.h"
#include "runtime/error.h"
#include "runtime/host_malloc.h"
#include "runtime/openmp_waiting.h"

namespace {
bool debug_from_environment() {
  const char* debug = std::getenv("AUTONET_DEBUG");
  return debug != nullptr && *debug != '\0' && std::string(debug) != "0";
}
}  // namespace

int main(int argc, char** argv) {
  autonet::choose_openmp_waiting(argv);
  autonet::choose_host_malloc();
  CLI::App app{"autonet: differentiable architecture search (DARTS) on our own CUDA runtime"};
  app.require_subcommand(1);
  app.set_version_flag("--version", AUTONET_VERSION);
  app.fallthrough();  // --verbose after the subcommand too
  bool verbose = debug_from_environment();
  app.add_flag("--verbose", verbose,
               "errors also show where they were raised in the source (as AUTONET_DEBUG=1 does)");
  // CLI11's own errors (an unknown flag, a missing value) in the same form as ours.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("autonet: error: {}\nRun with --help for more information.\n", e.what());
  });
  autonet::apps::add_info_command(app);
  autonet::apps::add_genotype_command(app);
  autonet::apps::add_search_command(app);
  autonet::apps::add_train_command(app);
  autonet::apps::add_hpsearch_command(app);
  autonet::apps::add_rnn_commands(app);
  autonet::apps::add_images_command(app);
  autonet::apps::add_eval_command(app);
  try {
    autonet::cpu_isa();  // a bad AUTONET_CPU_ISA stops every command before it starts its work
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const autonet::Error& e) {
    fmt::print(stderr, "autonet: error: {}\n", verbose ? e.what() : e.message());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "autonet: unexpected error: {}\n", e.what());
    return 2;
  }
  return 0;
}
