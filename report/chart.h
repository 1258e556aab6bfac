// Charts drawn as standalone <svg> elements (no plotting library): line charts of several series
// (a scatter plot is a series without a line), on linear, log or categorical axes, with a legend;
// heat maps; horizontal bar charts. Ticks follow report/ticks.h; text is escaped by report/svg.h.
// The structs are built with designated initializers ({.name = "loss", .x = ...}); every member
// has an initializer so that any may be left out.
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace autonet::report {

enum class Scale { Linear, Log };

struct Axis {
  std::string label{};
  Scale scale = Scale::Linear;
  std::vector<std::string> categories{};  // when given: value i is category i, and ticks name them
  double low = NAN, high = NAN;  // the span shown, when both are given; else the data's
};

enum class Dots {
  Few,   // a dot on each point when the series has at most 40 of them
  All,   // a dot on every point (scatter plots)
  None,  // no dots, except on a lone point of a line, which would otherwise draw nothing
};

struct Series {
  std::string name{};        // legend text and the start of the default hover tips
  std::vector<double> x{}, y{};  // same length; non-finite points, and points <= 0 on a log axis, are skipped
  bool line = true;          // join the points in order
  Dots dots = Dots::Few;
  std::string color{};        // empty: the palette's colour for the series' place
  double line_width = 1.6;
  double dot_radius = 2.5;
  std::string dash{};         // stroke-dasharray of the line, e.g. "4 3"
  double opacity = 1.0;
  std::vector<std::string> tips{};  // a hover text per point; empty: "name: x = y"
};

struct LegendEntry {
  std::string text, color;
};

struct Chart {
  std::string title{};
  Axis x{}, y{};
  int width = 640, height = 320;
  std::vector<LegendEntry> legend{};  // empty: one entry per named series
};

// The palette's colour for the k-th series: blue, orange, green, red, purple, brown, pink, grey.
const std::string& palette_color(size_t k);

std::string line_chart(const Chart& chart, const std::vector<Series>& series);

// values[r][c] in [low, high] mapped onto a white → dark blue scale; each cell shows its row,
// column and value on hover.
std::string heat_map(const std::string& title, const std::vector<std::vector<double>>& values,
                     const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& column_labels, double low, double high,
                     int cell_width = 22, int cell_height = 14);

// One labelled horizontal bar per (label, value), a bar of `full_scale` spanning the plot width.
std::string bar_chart(const std::string& title,
                      const std::vector<std::pair<std::string, double>>& bars, double full_scale);

}  // namespace autonet::report
