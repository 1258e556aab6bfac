#include "hpsearch/report.h"

#include <algorithm>
#include <functional>
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

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Round tick positions covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3 ? 2 * mag : raw / mag < 7 ? 5 * mag : 10 * mag;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

// A 2-D chart: data ranges, axes with ticks and labels, and marks in data coordinates.
class Chart {
 public:
  Chart(std::string title, std::string xlabel, std::string ylabel, double x0, double x1, double y0,
        double y1)
      : title_(std::move(title)), xlabel_(std::move(xlabel)), ylabel_(std::move(ylabel)),
        x0_(x0), x1_(x1 > x0 ? x1 : x0 + 1), y0_(y0), y1_(y1 > y0 ? y1 : y0 + 1) {
    const double pad = 0.05 * (y1_ - y0_);
    y0_ -= pad;
    y1_ += pad;
  }
  double px(double x) const { return kLeft + (x - x0_) / (x1_ - x0_) * (kW - kLeft - kRight); }
  double py(double y) const { return kH - kBottom - (y - y0_) / (y1_ - y0_) * (kH - kTop - kBottom); }
  void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& style) {
    if (pts.empty()) return;
    body_ << "<polyline fill=\"none\" " << style << " points=\"";
    for (const auto& [x, y] : pts) body_ << fmt(px(x), 7) << "," << fmt(py(y), 7) << " ";
    body_ << "\"/>\n";
  }
  void dot(double x, double y, const std::string& fill, const std::string& tip, double r = 3.5) {
    body_ << "<circle cx=\"" << fmt(px(x), 7) << "\" cy=\"" << fmt(py(y), 7) << "\" r=\"" << r
          << "\" fill=\"" << fill << "\"><title>" << xml_escape(tip) << "</title></circle>\n";
  }
  void legend(int row, const std::string& color, const std::string& text) {
    const double y = kTop + 12 + row * 16;
    body_ << "<rect x=\"" << kW - kRight - 150 << "\" y=\"" << y - 8 << "\" width=\"10\" height=\"10\" fill=\""
          << color << "\"/><text x=\"" << kW - kRight - 135 << "\" y=\"" << y + 1
          << "\" font-size=\"11\">" << xml_escape(text) << "</text>\n";
  }
  std::string svg() const {
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH
      << "\" font-family=\"sans-serif\">\n<text x=\"" << kW / 2 << "\" y=\"18\" text-anchor=\"middle\" "
      << "font-size=\"14\">" << xml_escape(title_) << "</text>\n";
    s << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kW - kLeft - kRight
      << "\" height=\"" << kH - kTop - kBottom << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (double t : nice_ticks(x0_, x1_))
      s << "<text x=\"" << fmt(px(t), 7) << "\" y=\"" << kH - kBottom + 15
        << "\" text-anchor=\"middle\" font-size=\"10\">" << fmt(t, 4) << "</text>\n";
    for (double t : nice_ticks(y0_, y1_))
      s << "<line x1=\"" << kLeft << "\" x2=\"" << kW - kRight << "\" y1=\"" << fmt(py(t), 7)
        << "\" y2=\"" << fmt(py(t), 7) << "\" stroke=\"#eee\"/><text x=\"" << kLeft - 5 << "\" y=\""
        << fmt(py(t) + 3, 7) << "\" text-anchor=\"end\" font-size=\"10\">" << fmt(t, 4) << "</text>\n";
    s << "<text x=\"" << (kLeft + kW - kRight) / 2 << "\" y=\"" << kH - 5
      << "\" text-anchor=\"middle\" font-size=\"12\">" << xml_escape(xlabel_) << "</text>\n";
    s << "<text transform=\"translate(14," << (kTop + kH - kBottom) / 2
      << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" << xml_escape(ylabel_) << "</text>\n";
    s << body_.str() << "</svg>\n";
    return s.str();
  }

  static constexpr int kW = 720, kH = 360, kLeft = 70, kRight = 20, kTop = 30, kBottom = 45;

 private:
  std::string title_, xlabel_, ylabel_;
  double x0_, x1_, y0_, y1_;
  std::ostringstream body_;
};

std::pair<double, double> finite_range(const std::vector<double>& v) {
  double lo = INFINITY, hi = -INFINITY;
  for (double x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!std::isfinite(lo)) return {0, 1};
  return {lo, hi};
}

// The seed's figures done right: every trial's value, and the best so far.
std::string history_chart(const StudySnapshot& s, const std::string& title, const std::string& label,
                          const std::function<std::optional<double>(const TrialRecord&)>& get,
                          Direction direction) {
  std::vector<double> values;
  for (const TrialRecord& t : s.trials)
    if (auto v = get(t)) values.push_back(*v);
  if (values.empty()) return "";
  const auto [lo, hi] = finite_range(values);
  Chart c(title, "trial", label, 0, std::max<double>(1, static_cast<double>(s.trials.size()) - 1), lo, hi);
  std::vector<std::pair<double, double>> best_line;
  std::optional<double> best;
  for (const TrialRecord& t : s.trials) {
    const auto v = get(t);
    if (!v || !std::isfinite(*v)) continue;
    const double x = static_cast<double>(t.number);
    if (t.state == TrialState::Complete) {
      if (!best || better(*v, *best, direction)) {
        if (best) best_line.push_back({x, *best});
        best = *v;
      }
      best_line.push_back({x, *best});
      c.dot(x, *v, "#1f77b4", "trial " + std::to_string(t.number) + ": " + fmt(*v));
    } else {
      c.dot(x, *v, "#bbb", "trial " + std::to_string(t.number) + " " + trial_state_name(t.state) + ": " + fmt(*v));
    }
  }
  if (best) best_line.push_back({static_cast<double>(s.trials.size() - 1), *best});
  c.polyline(best_line, "stroke=\"#ff7f0e\" stroke-width=\"2\"");
  c.legend(0, "#1f77b4", "trial value");
  c.legend(1, "#ff7f0e", "best so far");
  c.legend(2, "#bbb", "pruned (last report)");
  return c.svg();
}

std::string intermediate_chart(const StudySnapshot& s) {
  std::vector<double> values;
  double max_step = 1;
  for (const TrialRecord& t : s.trials)
    for (const Intermediate& r : t.intermediate) {
      values.push_back(r.value);
      max_step = std::max(max_step, static_cast<double>(r.step));
    }
  if (values.empty()) return "";
  const auto [lo, hi] = finite_range(values);
  Chart c("Intermediate values", "step (epoch)", "reported value", 1, max_step, lo, hi);
  for (const TrialRecord& t : s.trials) {
    std::vector<std::pair<double, double>> pts;
    for (const Intermediate& r : t.intermediate)
      if (std::isfinite(r.value)) pts.push_back({static_cast<double>(r.step), r.value});
    const bool pruned = t.state == TrialState::Pruned;
    c.polyline(pts, pruned ? "stroke=\"#d62728\" stroke-dasharray=\"4 3\" stroke-opacity=\"0.7\""
                           : "stroke=\"#1f77b4\" stroke-opacity=\"0.6\"");
  }
  c.legend(0, "#1f77b4", "complete / running");
  c.legend(1, "#d62728", "pruned");
  return c.svg();
}

// Objective colour: green (best) to red (worst).
std::string rank_colour(double r) {
  const int red = static_cast<int>(40 + 200 * r), green = static_cast<int>(170 - 120 * r);
  std::ostringstream s;
  s << "rgb(" << red << "," << green << ",60)";
  return s.str();
}

std::string parallel_coordinates(const StudySnapshot& s) {
  const Space& space = s.config.space;
  std::vector<const TrialRecord*> done;
  for (const TrialRecord& t : s.trials)
    if (t.state == TrialState::Complete && t.value) done.push_back(&t);
  if (done.empty()) return "";
  const size_t axes = space.size() + 1;
  const int w = std::max<int>(720, static_cast<int>(axes) * 90), h = 380, top = 40, bottom = 60;
  auto ax = [&](size_t i) { return 50.0 + static_cast<double>(i) * (w - 100) / std::max<size_t>(1, axes - 1); };
  auto ay = [&](double u) { return top + (1 - u) * (h - top - bottom); };
  std::vector<double> values;
  for (const TrialRecord* t : done) values.push_back(*t->value);
  const auto [lo, hi] = finite_range(values);
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" font-family=\"sans-serif\"><text x=\"" << w / 2 << "\" y=\"18\" text-anchor=\"middle\" "
      << "font-size=\"14\">Parallel coordinates (complete trials; colour: objective, green = best)</text>\n";
  // Worst first so the best lines are drawn on top.
  std::vector<const TrialRecord*> order = done;
  std::sort(order.begin(), order.end(), [&](const TrialRecord* a, const TrialRecord* b) {
    return better(*b->value, *a->value, s.config.direction);
  });
  for (const TrialRecord* t : order) {
    const Point x = space.point_from_json(t->params, /*check_range=*/false);
    const std::vector<double> u = space.encode(x);
    double r = hi > lo ? (*t->value - lo) / (hi - lo) : 0.0;
    if (s.config.direction == Direction::Maximize) r = 1 - r;
    svg << "<polyline fill=\"none\" stroke=\"" << rank_colour(r) << "\" stroke-opacity=\"0.75\" points=\"";
    for (size_t i = 0; i < space.size(); ++i) svg << fmt(ax(i), 7) << "," << fmt(ay(u[i]), 7) << " ";
    const double uo = hi > lo ? (*t->value - lo) / (hi - lo) : 0.5;
    svg << fmt(ax(axes - 1), 7) << "," << fmt(ay(uo), 7) << "\"><title>trial " << t->number << ": "
        << fmt(*t->value) << "</title></polyline>\n";
  }
  for (size_t i = 0; i < axes; ++i) {
    const bool objective = i == axes - 1;
    std::string name = objective ? s.config.objective : space[i].name;
    std::string low, high;
    if (objective) {
      low = fmt(lo, 4);
      high = fmt(hi, 4);
    } else if (space[i].numeric()) {
      low = fmt(space[i].low, 4) + (space[i].log ? " (log)" : "");
      high = fmt(space[i].high, 4);
    } else {
      low = json_scalar_text(space[i].choices.front());
      high = json_scalar_text(space[i].choices.back());
    }
    svg << "<line x1=\"" << ax(i) << "\" x2=\"" << ax(i) << "\" y1=\"" << top << "\" y2=\"" << h - bottom
        << "\" stroke=\"#333\"/><text x=\"" << ax(i) << "\" y=\"" << h - bottom + 16
        << "\" text-anchor=\"middle\" font-size=\"11\">" << xml_escape(name) << "</text><text x=\""
        << ax(i) << "\" y=\"" << h - bottom + 30 << "\" text-anchor=\"middle\" font-size=\"9\">"
        << xml_escape(low) << "</text><text x=\"" << ax(i) << "\" y=\"" << top - 5
        << "\" text-anchor=\"middle\" font-size=\"9\">" << xml_escape(high) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string importance_chart(const std::vector<std::pair<std::string, double>>& importance) {
  if (importance.empty()) return "";
  const int row = 24, w = 720, left = 160, h = 50 + row * static_cast<int>(importance.size());
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" font-family=\"sans-serif\"><text x=\"" << w / 2 << "\" y=\"18\" text-anchor=\"middle\" "
      << "font-size=\"14\">Parameter importance (share of variance explained, η²)</text>\n";
  for (size_t i = 0; i < importance.size(); ++i) {
    const double y = 35 + static_cast<double>(i) * row;
    const double bw = importance[i].second * (w - left - 80);
    svg << "<text x=\"" << left - 8 << "\" y=\"" << y + 14 << "\" text-anchor=\"end\" font-size=\"12\">"
        << xml_escape(importance[i].first) << "</text><rect x=\"" << left << "\" y=\"" << y + 2
        << "\" width=\"" << fmt(bw, 7) << "\" height=\"" << row - 6 << "\" fill=\"#2ca02c\"/><text x=\""
        << fmt(left + bw + 5, 7) << "\" y=\"" << y + 14 << "\" font-size=\"11\">"
        << fmt(importance[i].second, 3) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

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

std::string html_report(const StudySnapshot& study) {
  const Direction dir = study.config.direction;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << xml_escape(study.config.name)
    << " — autonet hpsearch</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto}"
       "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
       "svg{display:block;margin:1em 0}</style></head><body>\n";
  h << "<h1>Study " << xml_escape(study.config.name) << "</h1>\n<pre>" << xml_escape(status_text(study)) << "</pre>\n";
  h << history_chart(study, study.config.objective + " by trial", study.config.objective,
                     [](const TrialRecord& t) -> std::optional<double> {
                       if (t.state == TrialState::Complete || t.state == TrialState::Pruned) return t.value;
                       return std::nullopt;
                     },
                     dir);
  bool has_accuracy = false;
  for (const TrialRecord& t : study.trials) has_accuracy |= t.metrics.contains("accuracy");
  if (has_accuracy)
    h << history_chart(study, "accuracy by trial", "accuracy",
                       [](const TrialRecord& t) -> std::optional<double> {
                         if (t.state != TrialState::Complete && t.state != TrialState::Pruned) return std::nullopt;
                         if (!t.metrics.contains("accuracy") || !t.metrics["accuracy"].is_number()) return std::nullopt;
                         return t.metrics["accuracy"].get<double>();
                       },
                       Direction::Maximize);
  h << intermediate_chart(study) << parallel_coordinates(study)
    << importance_chart(parameter_importance(study));
  h << "<h2>Trials</h2>\n<table><tr><th>#</th><th>state</th><th>value</th><th>params</th><th>reason</th></tr>\n";
  for (const TrialRecord& t : study.trials)
    h << "<tr><td>" << t.number << "</td><td>" << trial_state_name(t.state) << "</td><td>"
      << (t.value ? fmt(*t.value) : "") << "</td><td>" << xml_escape(t.params.dump()) << "</td><td>"
      << xml_escape(t.reason) << "</td></tr>\n";
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace autonet::hpsearch
