// Drawings by Graphviz: `dot` runs from PATH with an argument vector (posix_spawnp, no shell), so
// any file name is passed through as it is, quotes and spaces included.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace autonet::report {

// The SVG that `dot -Tsvg dot_file` prints; nullopt when dot is not installed, or fails on the
// file (its messages are discarded: a drawing is optional, the DOT file stays).
std::optional<std::string> graphviz_svg(const std::filesystem::path& dot_file);

}  // namespace autonet::report
