// `autonet genotype show`: print a genotype in both forms and draw its cells.
#include <fmt/core.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "darts/genotype.h"
#include "report/atomic_file.h"

namespace autonet::apps {

void add_genotype_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("genotype", "Work with CNN genotypes");
  cmd->require_subcommand(1);
  CLI::App* show = cmd->add_subcommand(
      "show", "Print a genotype as DARTS text and JSON and draw its cells (DOT, SVG if `dot` exists)");
  auto source = std::make_shared<std::string>();
  auto out_dir = std::make_shared<std::string>("genotype");
  show->add_option("genotype", *source,
                   "published name (DARTS_V1, DARTS_V2, DARTS), a .txt/.json file, or the text")
      ->required();
  show->add_option("--out", *out_dir, "folder for genotype.txt, genotype.json and the drawings")
      ->capture_default_str();
  show->callback([source, out_dir] {
    const darts::CnnGenotype g = darts::load_cnn_genotype(*source);
    std::filesystem::create_directories(*out_dir);
    const std::filesystem::path dir(*out_dir);
    report::write_file_atomically(dir / "genotype.txt", darts::to_text(g) + "\n");
    report::write_file_atomically(dir / "genotype.json", darts::to_json(g).dump(2) + "\n");
    fmt::print("{}\n{}\n", darts::to_text(g), darts::to_json(g).dump());
    for (const char* cell : {"normal", "reduce"}) {
      const std::string stem = (dir / cell).string();
      const bool svg = darts::write_drawing(darts::to_dot(g, cell), stem);
      fmt::print("drew {}.dot{}\n", stem, svg ? fmt::format(" and {}.svg", stem) : "");
    }
  });
}

}  // namespace autonet::apps
