// The study's HTML report: every figure drawn by report/ (charts, page, escaping).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "hpsearch/report.h"
#include "report/chart.h"
#include "report/html_page.h"
#include "report/svg.h"

namespace autonet::hpsearch {
namespace {

using report::Axis;
using report::Chart;
using report::Dots;
using report::Series;

const std::string kBlue = "#1f77b4", kOrange = "#ff7f0e", kRed = "#d62728", kGrey = "#bbb";

std::string number_text(double v) { return fmt::format("{:.6g}", v); }

std::string json_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string trial_tip(const TrialRecord& t, double value) {
  const std::string state = t.state == TrialState::Complete ? "" : std::string(" ") + trial_state_name(t.state);
  return fmt::format("trial {}{}: {}", t.number, state, number_text(value));
}

// The seed's figures done right: every trial's value, and the best so far.
std::string history_chart(const StudySnapshot& s, const std::string& title, const std::string& label,
                          const std::function<std::optional<double>(const TrialRecord&)>& get,
                          Direction direction) {
  Series complete{.line = false, .dots = Dots::All, .color = kBlue, .dot_radius = 3.5};
  Series others{.line = false, .dots = Dots::All, .color = kGrey, .dot_radius = 3.5};
  Series best_line{.name = "best so far", .dots = Dots::None, .color = kOrange, .line_width = 2};
  std::optional<double> best;
  for (const TrialRecord& t : s.trials) {
    const auto v = get(t);
    if (!v || !std::isfinite(*v)) continue;
    const double x = static_cast<double>(t.number);
    Series& marks = t.state == TrialState::Complete ? complete : others;
    marks.x.push_back(x);
    marks.y.push_back(*v);
    marks.tips.push_back(trial_tip(t, *v));
    if (t.state != TrialState::Complete) continue;
    const bool improves = !best || (direction == Direction::Minimize ? *v < *best : *v > *best);
    if (improves) {
      if (best) best_line.x.push_back(x), best_line.y.push_back(*best);  // a step, not a slope
      best = *v;
    }
    best_line.x.push_back(x);
    best_line.y.push_back(*best);
  }
  if (complete.x.empty() && others.x.empty()) return "";
  if (best) best_line.x.push_back(static_cast<double>(s.trials.size() - 1)), best_line.y.push_back(*best);
  return report::line_chart({title, {"trial"}, {label}, 720, 360,
                             {{"trial value", kBlue}, {"best so far", kOrange}, {"pruned (last report)", kGrey}}},
                            {complete, others, best_line});
}

// Each trial's reports by step; a trial pruned after its first report is a lone dot.
std::string intermediate_chart(const StudySnapshot& s) {
  std::vector<Series> curves;
  for (const TrialRecord& t : s.trials) {
    const bool pruned = t.state == TrialState::Pruned;
    Series c{.name = fmt::format("trial {}", t.number), .dots = Dots::None,
             .color = pruned ? kRed : kBlue, .dot_radius = 3, .dash = pruned ? "4 3" : "",
             .opacity = pruned ? 0.7 : 0.6};
    for (const Intermediate& r : t.intermediate) {
      c.x.push_back(static_cast<double>(r.step));
      c.y.push_back(r.value);
      c.tips.push_back(fmt::format("trial {} step {}: {}", t.number, r.step, number_text(r.value)));
    }
    if (!c.x.empty()) curves.push_back(std::move(c));
  }
  if (curves.empty()) return "";
  return report::line_chart({"Intermediate values", {"step (epoch)"}, {"reported value"}, 720, 360,
                             {{"complete / running", kBlue}, {"pruned", kRed}}},
                            curves);
}

// Objective colour: green (best) to red (worst).
std::string rank_colour(double r) {
  return fmt::format("rgb({},{},60)", static_cast<int>(40 + 200 * r), static_cast<int>(170 - 120 * r));
}

std::pair<double, double> value_range(const std::vector<const TrialRecord*>& trials) {
  double lo = INFINITY, hi = -INFINITY;
  for (const TrialRecord* t : trials)
    if (std::isfinite(*t->value)) lo = std::min(lo, *t->value), hi = std::max(hi, *t->value);
  return std::isfinite(lo) ? std::make_pair(lo, hi) : std::make_pair(0.0, 1.0);
}

std::vector<const TrialRecord*> complete_trials(const StudySnapshot& s) {
  std::vector<const TrialRecord*> done;
  for (const TrialRecord& t : s.trials)
    if (t.state == TrialState::Complete && t.value) done.push_back(&t);
  return done;
}

std::string parallel_coordinates(const StudySnapshot& s) {
  const Space& space = s.config.space;
  const std::vector<const TrialRecord*> done = complete_trials(s);
  if (done.empty()) return "";
  const size_t axes = space.size() + 1;
  const double w = std::max<double>(720, static_cast<double>(axes) * 90), h = 380, top = 40, bottom = 60;
  auto ax = [&](size_t i) { return 50.0 + static_cast<double>(i) * (w - 100) / std::max<size_t>(1, axes - 1); };
  auto ay = [&](double u) { return top + (1 - u) * (h - top - bottom); };
  const auto [lo, hi] = value_range(done);
  report::Svg svg(w, h);
  svg.text(w / 2, 18, "Parallel coordinates (complete trials; colour: objective, green = best)",
           "text-anchor=\"middle\" font-size=\"14\"");
  // Worst first so the best lines are drawn on top.
  std::vector<const TrialRecord*> order = done;
  std::sort(order.begin(), order.end(), [&](const TrialRecord* a, const TrialRecord* b) {
    return s.config.direction == Direction::Minimize ? *a->value > *b->value : *a->value < *b->value;
  });
  for (const TrialRecord* t : order) {
    // Positions along the parameter axes are the unit encoding: log parameters on a log scale.
    const std::vector<double> u = space.encode(space.point_from_json(t->params, /*check_range=*/false));
    double r = hi > lo ? (*t->value - lo) / (hi - lo) : 0.0;
    if (s.config.direction == Direction::Maximize) r = 1 - r;
    std::vector<std::pair<double, double>> points;
    for (size_t i = 0; i < space.size(); ++i) points.push_back({ax(i), ay(u[i])});
    points.push_back({ax(axes - 1), ay(hi > lo ? (*t->value - lo) / (hi - lo) : 0.5)});
    svg.polyline(points, fmt::format("stroke=\"{}\" stroke-opacity=\"0.75\"", rank_colour(r)),
                 fmt::format("trial {}: {}", t->number, number_text(*t->value)));
  }
  for (size_t i = 0; i < axes; ++i) {
    const bool objective = i == axes - 1;
    std::string low, high;
    if (objective) {
      low = fmt::format("{:.4g}", lo);
      high = fmt::format("{:.4g}", hi);
    } else if (space[i].numeric()) {
      low = fmt::format("{:.4g}{}", space[i].low, space[i].log ? " (log)" : "");
      high = fmt::format("{:.4g}", space[i].high);
    } else {
      low = json_text(space[i].choices.front());
      high = json_text(space[i].choices.back());
    }
    svg.line(ax(i), top, ax(i), h - bottom, "stroke=\"#333\"");
    svg.text(ax(i), h - bottom + 16, objective ? s.config.objective : space[i].name,
             "text-anchor=\"middle\" font-size=\"11\"");
    svg.text(ax(i), h - bottom + 30, low, "text-anchor=\"middle\" font-size=\"9\"");
    svg.text(ax(i), top - 5, high, "text-anchor=\"middle\" font-size=\"9\"");
  }
  return svg.str();
}

// The objective against each parameter (complete trials blue, pruned ones grey at their last
// report), on a log axis where the parameter is sampled in log space, by name for categories.
std::string slice_charts(const StudySnapshot& s) {
  const Space& space = s.config.space;
  std::string row;
  for (size_t d = 0; d < space.size(); ++d) {
    const ParamSpec& p = space[d];
    // The whole range of the parameter, so that one sees where in it the trials went.
    Axis x{p.name, p.log ? report::Scale::Log : report::Scale::Linear, {}, p.low, p.high};
    for (const Json& c : p.choices) x.categories.push_back(json_text(c));
    Series complete{.line = false, .dots = Dots::All, .color = kBlue, .dot_radius = 3};
    Series pruned{.line = false, .dots = Dots::All, .color = kGrey, .dot_radius = 3};
    for (const TrialRecord& t : s.trials) {
      if (!t.value || (t.state != TrialState::Complete && t.state != TrialState::Pruned)) continue;
      if (!t.params.contains(p.name)) continue;
      Series& marks = t.state == TrialState::Complete ? complete : pruned;
      marks.x.push_back(p.from_json(t.params[p.name], /*check_range=*/false));
      marks.y.push_back(*t.value);
      marks.tips.push_back(fmt::format("trial {}: {} = {}, {} = {}", t.number, p.name,
                                       json_text(t.params[p.name]), s.config.objective,
                                       number_text(*t.value)));
    }
    if (complete.x.empty() && pruned.x.empty()) continue;
    row += report::line_chart({fmt::format("{} by {}", s.config.objective, p.name), x,
                               {s.config.objective}, 470, 300,
                               {{"complete", kBlue}, {"pruned (last report)", kGrey}}},
                              {complete, pruned});
  }
  return row;
}

// Where a trial ran: its device, after its host for a shared study's worker (owner host:pid:…).
std::string placement(const TrialRecord& t) {
  if (t.owner.empty()) return t.device;
  return t.owner.substr(0, t.owner.find(':')) + " " + t.device;
}

// When each trial ran: a bar from start to finish, in lanes per host and device (a trial takes
// the first lane free when it starts, so the lanes are the device's workers), coloured by outcome.
std::string timeline_chart(const StudySnapshot& s) {
  std::vector<const TrialRecord*> ran;
  double t0 = INFINITY;
  for (const TrialRecord& t : s.trials)
    if (t.started_at > 0 && t.finished_at >= t.started_at) ran.push_back(&t), t0 = std::min(t0, t.started_at);
  if (ran.empty()) return "";
  std::stable_sort(ran.begin(), ran.end(),
                   [](const TrialRecord* a, const TrialRecord* b) { return a->started_at < b->started_at; });
  std::vector<std::pair<std::string, double>> lanes;  // (host and device, busy until)
  std::vector<Series> bars;
  for (const TrialRecord* t : ran) {
    const std::string where = placement(*t);
    size_t lane = 0;
    while (lane < lanes.size() && (lanes[lane].first != where || lanes[lane].second > t->started_at)) ++lane;
    if (lane == lanes.size()) lanes.push_back({where, 0});
    lanes[lane].second = t->finished_at;
    const std::string color = t->state == TrialState::Complete ? kBlue : t->state == TrialState::Pruned ? kRed : kGrey;
    const std::string tip = fmt::format("trial {} {} on {}: {:.1f} s to {:.1f} s", t->number,
                                        trial_state_name(t->state), where,
                                        t->started_at - t0, t->finished_at - t0);
    const double y = static_cast<double>(lane);
    bars.push_back({.name = tip, .x = {t->started_at - t0, t->finished_at - t0}, .y = {y, y},
                    .dots = Dots::None, .color = color, .line_width = 10, .tips = {tip}});
  }
  Axis workers{.label = "worker"};
  std::map<std::string, int> per_device;
  for (const auto& [device, _] : lanes)
    workers.categories.push_back(fmt::format("{} #{}", device, ++per_device[device]));
  return report::line_chart({"Trials over time", {"seconds since the first trial started"}, workers,
                             720, std::max(160, 90 + 26 * static_cast<int>(lanes.size())),
                             {{"complete", kBlue}, {"pruned", kRed}, {"failed", kGrey}}},
                            bars);
}

}  // namespace

std::string html_report(const StudySnapshot& study) {
  report::HtmlPage page(study.config.name + " — autonet hpsearch", "Study " + study.config.name);
  page.preformatted(status_text(study));
  page.markup(history_chart(study, study.config.objective + " by trial", study.config.objective,
                            [](const TrialRecord& t) -> std::optional<double> {
                              if (t.state == TrialState::Complete || t.state == TrialState::Pruned) return t.value;
                              return std::nullopt;
                            },
                            study.config.direction));
  bool has_accuracy = false;
  for (const TrialRecord& t : study.trials) has_accuracy |= t.metrics.contains("accuracy");
  if (has_accuracy)
    page.markup(history_chart(study, "accuracy by trial", "accuracy",
                              [](const TrialRecord& t) -> std::optional<double> {
                                if (t.state != TrialState::Complete && t.state != TrialState::Pruned) return std::nullopt;
                                if (!t.metrics.contains("accuracy") || !t.metrics["accuracy"].is_number()) return std::nullopt;
                                return t.metrics["accuracy"].get<double>();
                              },
                              Direction::Maximize));
  page.markup(intermediate_chart(study));
  page.markup(parallel_coordinates(study));
  const std::vector<std::pair<std::string, double>> importance = parameter_importance(study);
  if (!importance.empty())
    page.markup(report::bar_chart("Parameter importance (share of variance explained, η²)", importance, 1.0));
  const std::string slices = slice_charts(study);
  if (!slices.empty()) {
    page.heading(2, "Objective by parameter");
    page.begin_row();
    page.markup(slices);
    page.end_row();
  }
  page.markup(timeline_chart(study));
  std::vector<std::vector<std::string>> rows;
  for (const TrialRecord& t : study.trials)
    rows.push_back({std::to_string(t.number), trial_state_name(t.state), t.value ? number_text(*t.value) : "",
                    t.params.dump(), t.reason});
  page.heading(2, "Trials");
  page.table({"#", "state", "value", "params", "reason"}, rows);
  return page.str();
}

}  // namespace autonet::hpsearch
