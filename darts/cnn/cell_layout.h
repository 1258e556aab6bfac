// How DARTS lays out cells and networks (reference darts.md §2.2–§2.3, §5.3), shared by the
// search and the augment network.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace autonet::darts {

// One edge of a search cell: it feeds intermediate node `node` (state index, 2..) from state
// `input` (0, 1: the preprocessed cell inputs; 2..: earlier nodes).
struct CellEdge {
  int node = 0;
  int input = 0;
  int stride = 1;
  bool operator==(const CellEdge&) const = default;
};

// Edges of a search cell with `nodes` intermediate nodes, in α-row order: node 2 takes edges
// 0..1 (inputs 0, 1), node 3 edges 2..4 (inputs 0..2), ... In a reduction cell, edges from
// inputs 0 and 1 have stride 2.
std::vector<CellEdge> search_cell_edges(int nodes, bool reduction);
// Σ_{i<nodes} (2 + i): 14 for 4 nodes.
int search_edge_count(int nodes);

// Cell i of L is a reduction cell iff i ∈ {⌊L/3⌋, ⌊2L/3⌋}.
bool is_reduction_cell(int64_t i, int64_t layers);

// The official "param size = %f MB" figure: count / 1e6 with six decimals, e.g. "1.930618MB".
std::string format_param_size_mb(int64_t count);

}  // namespace autonet::darts
