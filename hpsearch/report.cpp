#include "hpsearch/report.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "runtime/error.h"

namespace autonet::hpsearch {

StudySnapshot StudySnapshot::load(const StudyStore& store) {
  return {StudyConfig::from_json(store.config()), store.trials(), store.events()};
}

namespace {

bool better(double a, double b, Direction d) { return d == Direction::Minimize ? a < b : a > b; }

std::string fmt(double v, int precision = 6) {
  if (!std::isfinite(v)) return "nan";
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string json_scalar_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::optional<TrialRecord> best_trial(const StudySnapshot& study) {
  std::optional<TrialRecord> best;
  for (const TrialRecord& t : study.trials)
    if (t.state == TrialState::Complete && t.value && std::isfinite(*t.value) &&
        (!best || better(*t.value, *best->value, study.config.direction)))
      best = t;
  return best;
}

std::vector<std::pair<std::string, double>> parameter_importance(const StudySnapshot& study) {
  const Space& space = study.config.space;
  std::vector<std::vector<double>> u;
  std::vector<double> y;
  for (const TrialRecord& t : study.trials) {
    if (t.state != TrialState::Complete || !t.value || !std::isfinite(*t.value)) continue;
    u.push_back(space.encode(space.point_from_json(t.params, /*check_range=*/false)));
    y.push_back(*t.value);
  }
  std::vector<std::pair<std::string, double>> out;
  if (y.size() < 3) return out;
  const double n = static_cast<double>(y.size());
  double mean = 0;
  for (double v : y) mean += v / n;
  double total = 0;
  for (double v : y) total += (v - mean) * (v - mean);
  double sum = 0;
  for (size_t d = 0; d < space.size(); ++d) {
    const int bins = space[d].numeric() ? std::clamp(static_cast<int>(y.size()) / 3, 2, 8)
                                        : static_cast<int>(space[d].choices.size());
    std::vector<double> bsum(bins, 0), bcount(bins, 0);
    for (size_t i = 0; i < y.size(); ++i) {
      const int b = std::min(bins - 1, static_cast<int>(u[i][d] * bins));
      bsum[b] += y[i];
      bcount[b] += 1;
    }
    double between = 0;
    for (int b = 0; b < bins; ++b)
      if (bcount[b] > 0) between += bcount[b] * std::pow(bsum[b] / bcount[b] - mean, 2);
    const double eta2 = total > 0 ? between / total : 0;
    out.push_back({space[d].name, eta2});
    sum += eta2;
  }
  for (auto& [_, v] : out) v = sum > 0 ? v / sum : 0;
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string export_csv(const StudySnapshot& study) {
  const Space& space = study.config.space;
  std::set<std::string> metric_names;
  for (const TrialRecord& t : study.trials)
    for (const auto& [k, _] : t.metrics.items()) metric_names.insert(k);
  std::ostringstream out;
  out << "number,state,value";
  for (const ParamSpec& p : space.params()) out << "," << csv_field("param_" + p.name);
  for (const std::string& m : metric_names) out << "," << csv_field("metric_" + m);
  out << ",seed,attempts,device,version,duration_s,reason\n";
  for (const TrialRecord& t : study.trials) {
    out << t.number << "," << trial_state_name(t.state) << "," << (t.value ? fmt(*t.value, 17) : "");
    for (const ParamSpec& p : space.params())
      out << "," << (t.params.contains(p.name) ? csv_field(json_scalar_text(t.params[p.name])) : "");
    for (const std::string& m : metric_names)
      out << "," << (t.metrics.contains(m) ? csv_field(json_scalar_text(t.metrics[m])) : "");
    const double duration = t.finished_at > 0 ? t.finished_at - t.started_at : 0;
    out << "," << t.seed << "," << t.attempts << "," << csv_field(t.device) << ","
        << csv_field(t.version) << "," << fmt(duration, 6) << "," << csv_field(t.reason) << "\n";
  }
  return out.str();
}

Json export_json(const StudySnapshot& study) {
  Json trials = Json::array();
  for (const TrialRecord& t : study.trials) {
    Json steps = Json::array();
    for (const Intermediate& r : t.intermediate)
      steps.push_back({r.step, std::isfinite(r.value) ? Json(r.value) : Json(nullptr)});
    trials.push_back({{"number", t.number},
                      {"state", trial_state_name(t.state)},
                      {"value", t.value ? Json(*t.value) : Json(nullptr)},
                      {"params", t.params},
                      {"metrics", t.metrics},
                      {"seed", t.seed},
                      {"attempts", t.attempts},
                      {"device", t.device},
                      {"version", t.version},
                      {"created_at", t.created_at},
                      {"started_at", t.started_at},
                      {"finished_at", t.finished_at},
                      {"reason", t.reason},
                      {"intermediate", steps}});
  }
  Json events = Json::array();
  for (const Event& e : study.events)
    events.push_back({{"at", e.at}, {"trial", e.trial}, {"kind", e.kind}, {"detail", e.detail}});
  const auto best = best_trial(study);
  return {{"study", study.config.to_json()},
          {"best", best ? Json{{"number", best->number}, {"value", *best->value}, {"params", best->params}}
                        : Json(nullptr)},
          {"trials", trials},
          {"events", events}};
}

std::string status_text(const StudySnapshot& study) {
  std::map<std::string, int> counts;
  for (const TrialRecord& t : study.trials) counts[trial_state_name(t.state)]++;
  std::ostringstream s;
  s << "study '" << study.config.name << "': " << study.trials.size() << " of "
    << study.config.budget.trials << " trials (sampler " << study.config.sampler.value("name", "?")
    << ", pruner " << study.config.pruner.value("name", "?") << ", workload "
    << study.config.workload.value("name", "?") << ")\n ";
  for (const auto& [state, n] : counts) s << " " << state << " " << n;
  s << "\n";
  if (const auto best = best_trial(study))
    s << "best: trial " << best->number << " " << study.config.objective << " = " << fmt(*best->value)
      << " " << best->params.dump() << "\n";
  return s.str();
}

}  // namespace autonet::hpsearch
