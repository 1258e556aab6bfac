#include "report/chart.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/svg.h"
#include "report/ticks.h"

namespace autonet::report {
namespace {

constexpr double kLeft = 64, kTop = 30, kBottom = 44;
constexpr double kLegendWidth = 170, kRightWithoutLegend = 20;
constexpr size_t kFewPoints = 40;

bool drawable(const Axis& axis, double v) {
  return std::isfinite(v) && (axis.scale == Scale::Linear || v > 0);
}

// Positions along an axis are linear in the value, or in log10 of it on a log axis.
double position(const Axis& axis, double v) { return axis.scale == Scale::Log ? std::log10(v) : v; }

struct Span {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double v) { low = std::min(low, v), high = std::max(high, v); }
  bool empty() const { return low > high; }
};

// What an axis shows, in positions: every category; or the axis' own span when it has one, else
// the data's (a lone value centred in a unit span), with `pad` of it added at both ends; [0, 1]
// without either.
Span shown_span(const Axis& axis, Span data, double pad) {
  if (!axis.categories.empty()) return {-0.5, static_cast<double>(axis.categories.size()) - 0.5};
  if (drawable(axis, axis.low) && drawable(axis, axis.high) && axis.high > axis.low)
    data = {position(axis, axis.low), position(axis, axis.high)};
  if (data.empty()) return {0, 1};
  if (data.high <= data.low) return {data.low - 0.5, data.high + 0.5};
  const double margin = pad * (data.high - data.low);
  return {data.low - margin, data.high + margin};
}

struct Tick {
  double at;  // position
  std::string label;
};

std::vector<Tick> axis_ticks(const Axis& axis, const Span& span) {
  std::vector<Tick> ticks;
  if (!axis.categories.empty()) {
    for (size_t i = 0; i < axis.categories.size(); ++i)
      ticks.push_back({static_cast<double>(i), axis.categories[i]});
  } else if (axis.scale == Scale::Log) {
    for (double v : log_ticks(std::pow(10.0, span.low), std::pow(10.0, span.high)))
      ticks.push_back({std::log10(v), tick_label(v, v)});
  } else {
    const std::vector<double> values = nice_ticks(span.low, span.high);
    const double step = values.size() > 1 ? values[1] - values[0] : 1.0;
    for (double v : values) ticks.push_back({v, tick_label(v, step)});
  }
  return ticks;
}

std::string stroke_attributes(const std::string& color, double width, const std::string& dash,
                              double opacity) {
  std::string a = fmt::format("stroke=\"{}\" stroke-width=\"{}\"", color, width);
  if (!dash.empty()) a += fmt::format(" stroke-dasharray=\"{}\"", dash);
  if (opacity < 1) a += fmt::format(" stroke-opacity=\"{}\"", opacity);
  return a;
}

}  // namespace

const std::string& palette_color(size_t k) {
  // Readable when printed, and the order matplotlib users know.
  static const std::vector<std::string> colors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return colors[k % colors.size()];
}

std::string line_chart(const Chart& chart, const std::vector<Series>& series) {
  Span x_data, y_data;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (drawable(chart.x, s.x[i]) && drawable(chart.y, s.y[i])) {
        x_data.add(position(chart.x, s.x[i]));
        y_data.add(position(chart.y, s.y[i]));
      }
  const Span xs = shown_span(chart.x, x_data, 0.0), ys = shown_span(chart.y, y_data, 0.05);

  std::vector<LegendEntry> legend = chart.legend;
  if (legend.empty())
    for (size_t k = 0; k < series.size(); ++k)
      if (!series[k].name.empty())
        legend.push_back({series[k].name, series[k].color.empty() ? palette_color(k) : series[k].color});

  // The legend sits in a right margin, clear of the lines.
  const double right = legend.empty() ? kRightWithoutLegend : kLegendWidth;
  const double pw = chart.width - kLeft - right, ph = chart.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (position(chart.x, x) - xs.low) / (xs.high - xs.low) * pw; };
  auto py = [&](double y) { return kTop + (1 - (position(chart.y, y) - ys.low) / (ys.high - ys.low)) * ph; };
  auto px_at = [&](double at) { return kLeft + (at - xs.low) / (xs.high - xs.low) * pw; };
  auto py_at = [&](double at) { return kTop + (1 - (at - ys.low) / (ys.high - ys.low)) * ph; };

  Svg svg(chart.width, chart.height);
  svg.text(kLeft, 18, chart.title, "font-size=\"13\" font-weight=\"bold\"");
  for (const Tick& t : axis_ticks(chart.y, ys)) {
    svg.line(kLeft, py_at(t.at), kLeft + pw, py_at(t.at), "stroke=\"#e5e5e5\"");
    svg.text(kLeft - 6, py_at(t.at) + 4, t.label, "text-anchor=\"end\"");
  }
  for (const Tick& t : axis_ticks(chart.x, xs)) {
    svg.line(px_at(t.at), kTop, px_at(t.at), kTop + ph, "stroke=\"#e5e5e5\"");
    svg.text(px_at(t.at), kTop + ph + 16, t.label, "text-anchor=\"middle\"");
  }
  svg.rect(kLeft, kTop, pw, ph, "fill=\"none\" stroke=\"#444\"");
  const bool x_log = chart.x.scale == Scale::Log, y_log = chart.y.scale == Scale::Log;
  svg.text(kLeft + pw / 2, chart.height - 8, chart.x.label + (x_log ? " (log scale)" : ""),
           "text-anchor=\"middle\"");
  svg.text(0, 0, chart.y.label + (y_log ? " (log scale)" : ""),
           fmt::format("transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\"",
                       kTop + ph / 2));
  if (x_data.empty()) svg.text(kLeft + pw / 2, kTop + ph / 2, "no data yet", "text-anchor=\"middle\"");

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string& color = s.color.empty() ? palette_color(k) : s.color;
    std::vector<size_t> shown;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (drawable(chart.x, s.x[i]) && drawable(chart.y, s.y[i])) shown.push_back(i);
    if (s.line && shown.size() > 1) {
      std::vector<std::pair<double, double>> points;
      for (size_t i : shown) points.push_back({px(s.x[i]), py(s.y[i])});
      svg.polyline(points, stroke_attributes(color, s.line_width, s.dash, s.opacity), s.name);
    }
    const bool dots = s.dots == Dots::All || (s.dots == Dots::Few && shown.size() <= kFewPoints) ||
                      (s.line && shown.size() == 1);
    if (!dots) continue;
    std::string fill = fmt::format("fill=\"{}\"", color);
    if (s.opacity < 1) fill += fmt::format(" fill-opacity=\"{}\"", s.opacity);
    for (size_t i : shown)
      svg.circle(px(s.x[i]), py(s.y[i]), s.dot_radius, fill,
                 i < s.tips.size() ? s.tips[i] : fmt::format("{}: {} = {:.4g}", s.name, s.x[i], s.y[i]));
  }

  for (size_t k = 0; k < legend.size(); ++k) {
    const double ly = kTop + 10 + 15 * static_cast<double>(k);
    svg.line(kLeft + pw + 10, ly - 4, kLeft + pw + 28, ly - 4,
             fmt::format("stroke=\"{}\" stroke-width=\"2\"", legend[k].color));
    svg.text(kLeft + pw + 32, ly, legend[k].text);
  }
  return svg.str();
}

std::string heat_map(const std::string& title, const std::vector<std::vector<double>>& values,
                     const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& column_labels, double low, double high,
                     int cell_width, int cell_height) {
  const size_t rows = values.size(), cols = rows ? values[0].size() : 0;
  const double left = 58, top = 24, label_height = 84;
  const double width = left + cols * cell_width + 48;  // room for the last slanted label
  const double height = top + rows * cell_height + label_height;
  auto label = [](const std::vector<std::string>& labels, size_t i) {
    return i < labels.size() ? labels[i] : std::string();
  };
  Svg svg(width, height, 9);
  svg.text(4, 14, title, "font-size=\"11\" font-weight=\"bold\"");
  const double span = high > low ? high - low : 1.0;
  for (size_t r = 0; r < rows; ++r) {
    const double y = top + r * cell_height;
    svg.text(left - 4, y + cell_height - 3, label(row_labels, r), "text-anchor=\"end\"");
    for (size_t c = 0; c < cols && c < values[r].size(); ++c) {
      const double v = values[r][c];
      const double t = std::clamp((v - low) / span, 0.0, 1.0);
      // White (low) → dark blue rgb(8, 48, 107) (high).
      const long red = std::lround(255 - t * (255 - 8)), green = std::lround(255 - t * (255 - 48)),
                 blue = std::lround(255 - t * (255 - 107));
      svg.rect(left + c * cell_width, y, cell_width, cell_height,
               fmt::format("fill=\"rgb({},{},{})\"", red, green, blue),
               fmt::format("{} / {}: {:.4f}", label(row_labels, r), label(column_labels, c), v));
    }
  }
  for (size_t c = 0; c < cols && c < column_labels.size(); ++c)
    svg.text(0, 0, column_labels[c],
             fmt::format("transform=\"translate({:.1f} {:.1f}) rotate(60)\"",
                         left + c * cell_width + cell_width / 2.0 - 3, top + rows * cell_height + 4));
  return svg.str();
}

std::string bar_chart(const std::string& title,
                      const std::vector<std::pair<std::string, double>>& bars, double full_scale) {
  const double row = 24, width = 720, left = 160, bar_space = width - left - 80;
  Svg svg(width, 50 + row * static_cast<double>(bars.size()), 11);
  svg.text(width / 2, 18, title, "text-anchor=\"middle\" font-size=\"14\"");
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const double y = 35 + static_cast<double>(i) * row;
    const double length = full_scale > 0 ? std::clamp(value / full_scale, 0.0, 1.0) * bar_space : 0;
    svg.text(left - 8, y + 14, label, "text-anchor=\"end\" font-size=\"12\"");
    svg.rect(left, y + 2, length, row - 6, "fill=\"#2ca02c\"", fmt::format("{}: {:.3g}", label, value));
    svg.text(left + length + 5, y + 14, fmt::format("{:.3g}", value));
  }
  return svg.str();
}

}  // namespace autonet::report
