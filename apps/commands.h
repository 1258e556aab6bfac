// Each `autonet` subcommand registers itself on the CLI11 app through one of these functions.
#pragma once
#include <CLI/CLI.hpp>

namespace autonet::apps {
void add_info_command(CLI::App& app);
void add_genotype_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_hpsearch_command(CLI::App& app);
void add_rnn_commands(CLI::App& app);
void add_images_command(CLI::App& app);
void add_eval_command(CLI::App& app);
}  // namespace autonet::apps
