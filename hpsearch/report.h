// What a study looks like from outside: CSV and JSON exports, the best trial, parameter
// importance, and an HTML report (report_html.cpp) whose plots are SVG drawn by report/ (no
// Python, no JS): objective (and accuracy) by trial with the best so far, intermediate curves,
// parallel coordinates, parameter importance, the objective against each parameter (log axes for
// log parameters) and a timeline of the trials per worker.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/store.h"
#include "hpsearch/study.h"

namespace autonet::hpsearch {

struct StudySnapshot {
  StudyConfig config;
  std::vector<TrialRecord> trials;
  std::vector<Event> events;
  static StudySnapshot load(const StudyStore& store);
};

std::optional<TrialRecord> best_trial(const StudySnapshot& study);
std::string export_csv(const StudySnapshot& study);
Json export_json(const StudySnapshot& study);
std::string status_text(const StudySnapshot& study);

// Main-effect importance: for each parameter the share of the objective's variance explained by
// it alone (correlation ratio η² over up to 8 equal-width bins of u, or over categories),
// normalised to sum to 1. Uses complete trials; empty with fewer than 3.
std::vector<std::pair<std::string, double>> parameter_importance(const StudySnapshot& study);

std::string html_report(const StudySnapshot& study);

}  // namespace autonet::hpsearch
