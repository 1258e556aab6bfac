// report.html of a run folder: curves of loss and accuracy — perplexity for the recurrent runs
// (step summaries and epoch records), the learning rate, α heat maps over the epochs (search),
// β heat maps with a column per epoch (PC-DARTS search), the final cells (the SVG drawings when
// Graphviz made them, else the DOT text), and the resolved config. The kind of run (config.json
// run.kind) picks the α matrices and drawings. Every plot is inline SVG drawn by report/chart.h;
// the file needs nothing else to display.
#pragma once
#include <string>

#include "run/run_folder.h"

namespace autonet::darts {

// Builds the report from the folder's config.json, log.jsonl and drawings; writes it atomically.
void write_report(const run::RunFolder& run, const std::string& title);

}  // namespace autonet::darts
