// Cell and network layout rules shared by the search and augment networks.
#include "darts/cnn/cell_layout.h"

#include <cstdio>

#include "runtime/error.h"

namespace autonet::darts {

std::vector<CellEdge> search_cell_edges(int nodes, bool reduction) {
  AN_CHECK(nodes >= 1) << "a cell needs at least one intermediate node, got " << nodes;
  std::vector<CellEdge> edges;
  for (int i = 0; i < nodes; ++i)
    for (int j = 0; j < 2 + i; ++j) edges.push_back({i + 2, j, reduction && j < 2 ? 2 : 1});
  return edges;
}

int search_edge_count(int nodes) { return nodes * (nodes + 3) / 2; }

bool is_reduction_cell(int64_t i, int64_t layers) {
  return i == layers / 3 || i == 2 * layers / 3;
}

std::string format_param_size_mb(int64_t count) {
  char text[64];
  std::snprintf(text, sizeof text, "%fMB", static_cast<double>(count) / 1e6);
  return text;
}

}  // namespace autonet::darts
