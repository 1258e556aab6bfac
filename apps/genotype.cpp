// `autonet genotype show`: print a genotype in both forms and draw its cells.
#include <fmt/core.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "darts/genotype/genotype.h"
#include "report/atomic_file.h"

namespace autonet::apps {

void add_genotype_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("genotype", "Work with CNN and RNN genotypes");
  cmd->require_subcommand(1);
  CLI::App* show = cmd->add_subcommand(
      "show", "Print a genotype as DARTS text and JSON and draw its cells (DOT, SVG if `dot` exists)");
  auto source = std::make_shared<std::string>();
  auto out_dir = std::make_shared<std::string>("genotype");
  auto recurrent = std::make_shared<bool>(false);
  show->add_option("genotype", *source,
                   "published name (CNN: NASNet, AmoebaNet, DARTS_V1, DARTS_V2, DARTS; "
                   "RNN: ENAS and, with --recurrent, DARTS_V1, DARTS_V2, DARTS), a .txt/.json "
                   "file, or the text")
      ->required();
  show->add_flag("--recurrent", *recurrent,
                 "read the name as an RNN genotype (text with a recurrent field is one anyway)");
  show->add_option("--out", *out_dir, "folder for genotype.txt, genotype.json and the drawings")
      ->capture_default_str();
  show->callback([source, out_dir, recurrent] {
    std::filesystem::create_directories(*out_dir);
    const std::filesystem::path dir(*out_dir);
    auto show_genotype = [&dir](const auto& g) {
      report::write_file_atomically(dir / "genotype.txt", darts::to_text(g) + "\n");
      report::write_file_atomically(dir / "genotype.json", darts::to_json(g).dump(2) + "\n");
      fmt::print("{}\n{}\n", darts::to_text(g), darts::to_json(g).dump());
    };
    auto draw = [&dir](const std::string& dot, const char* cell) {
      const std::string stem = (dir / cell).string();
      const bool svg = darts::write_drawing(dot, stem);
      fmt::print("drew {}.dot{}\n", stem, svg ? fmt::format(" and {}.svg", stem) : "");
    };
    if (*recurrent || darts::is_recurrent_genotype(*source)) {
      const darts::RnnGenotype g = darts::load_rnn_genotype(*source);
      show_genotype(g);
      draw(darts::to_dot(g), "recurrent");
      return;
    }
    const darts::CnnGenotype g = darts::load_cnn_genotype(*source);
    show_genotype(g);
    for (const char* cell : {"normal", "reduce"}) draw(darts::to_dot(g, cell), cell);
  });
}

}  // namespace autonet::apps
