// The `autonet` command line: a thin main. Library code throws autonet::Error; only here do we
// turn errors into a message and an exit status.
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "runtime/error.h"

int main(int argc, char** argv) {
  CLI::App app{"autonet: differentiable architecture search (DARTS) on our own CUDA runtime"};
  app.require_subcommand(1);
  app.set_version_flag("--version", AUTONET_VERSION);
  autonet::apps::add_info_command(app);
  autonet::apps::add_genotype_command(app);
  autonet::apps::add_search_command(app);
  autonet::apps::add_train_command(app);
  autonet::apps::add_hpsearch_command(app);
  autonet::apps::add_rnn_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const autonet::Error& e) {
    fmt::print(stderr, "autonet: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "autonet: unexpected error: {}\n", e.what());
    return 2;
  }
  return 0;
}
