// What is live, by owner, at the memory peak: a debugging and benchmark facility
// (bench_search_step --memory_table; docs/performance.md, "What is live at the peak").
//
// While a census runs on a device, every Storage created there counts under a label: its
// producer's name once someone names it (autograd names each op's output after the op, e.g.
// "conv2d"), "(unlabelled)" until then. Whenever the census's live bytes reach a new high, it
// copies its per-label totals: that copy is what was live at the peak. Storages created before
// the census started are not counted (the weights, optimizer state and data a benchmark built
// first), so the census's peak is the step's own share of the allocator's peak.
//
// Zero cost when off: a Storage reads one atomic flag when created.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/device.h"

namespace autonet {

struct CensusRow {
  std::string label;
  int64_t tensors = 0;  // storages under this label live at the peak
  size_t bytes = 0;
};

struct CensusReport {
  size_t peak_bytes = 0;        // the most bytes live at once among the counted storages
  std::vector<CensusRow> rows;  // what was live then, most bytes first
};

// Starts (or restarts, forgetting everything) counting the storages created on `device`.
void memory_census_start(Device device);
// Stops counting; the report stays readable.
void memory_census_stop();
CensusReport memory_census_at_peak();

// Hooks for Storage (runtime/tensor.cpp): whether to count a new storage, then its life.
bool memory_census_counts(Device device);
void memory_census_add(const void* owner, size_t bytes);
void memory_census_label(const void* owner, const char* label);
void memory_census_remove(const void* owner);

}  // namespace autonet
