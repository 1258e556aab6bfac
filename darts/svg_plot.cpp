// SVG line charts and heat maps for the run reports.
#include "darts/svg_plot.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace autonet::darts {
namespace {

// A palette that stays readable when printed: blue, orange, green, red, purple, brown, pink, grey.
const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                         "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string tick_label(double v, double step) {
  const int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step))));
  return fmt::format("{:.{}f}", v, decimals);
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double low, double high, int count) {
  if (!(high > low)) return {low};
  const double raw = (high - low) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(low / step) * step; t <= high + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string svg_line_chart(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<Series>& series,
                           int width, int height) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  const bool empty = !std::isfinite(x0);
  if (empty) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;

  const double left = 64, right = 16 + 0, top = 30, bottom = 44;
  const double pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"11\">\n",
      width, height, width, height);
  svg += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", width, height);
  svg += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                     left, xml_escape(title));
  // Grid and ticks.
  const std::vector<double> yt = nice_ticks(y0, y1), xt = nice_ticks(x0, x1);
  const double ys = yt.size() > 1 ? yt[1] - yt[0] : 1, xs = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : yt) {
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        left, py(t), left + pw, py(t), left - 6, py(t) + 4, tick_label(t, ys));
  }
  for (double t : xt) {
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
        px(t), top, px(t), top + ph, px(t), top + ph + 16, tick_label(t, xs));
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left,
      top, pw, ph);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     left + pw / 2, height - 8, xml_escape(x_label));
  svg += fmt::format(
      "<text transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      top + ph / 2, xml_escape(y_label));
  if (empty)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">no data yet</text>\n",
                       left + pw / 2, top + ph / 2);

  // Lines (a dot per point when there are few), legend at the top right.
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* color = kColors[k % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string points;
    size_t n = 0;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      points += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i]));
      ++n;
    }
    if (n > 1)
      svg += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/>\n", color,
          points);
    if (n <= 40)
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          svg += fmt::format(
              "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"><title>{}: {} = {:.4g}"
              "</title></circle>\n",
              px(s.x[i]), py(s.y[i]), color, xml_escape(s.name), s.x[i], s.y[i]);
    const double ly = top + 14 + 15 * static_cast<double>(k);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        left + pw - 120, ly - 4, left + pw - 100, ly - 4, color, left + pw - 95, ly,
        xml_escape(s.name));
  }
  svg += "</svg>\n";
  return svg;
}

std::string svg_heatmap(const std::string& title, const std::vector<std::vector<double>>& values,
                        const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& column_labels, double low, double high,
                        int cell_width, int cell_height) {
  const int rows = static_cast<int>(values.size());
  const int cols = rows ? static_cast<int>(values[0].size()) : 0;
  const int left = 58, top = 24, label_height = 78;
  const int width = left + cols * cell_width + 8;
  const int height = top + rows * cell_height + label_height;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"9\">\n",
      width, height, width, height);
  svg += fmt::format("<text x=\"4\" y=\"14\" font-size=\"11\" font-weight=\"bold\">{}</text>\n",
                     xml_escape(title));
  const double span = high > low ? high - low : 1.0;
  for (int r = 0; r < rows; ++r) {
    if (r < static_cast<int>(row_labels.size()))
      svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 4,
                         top + r * cell_height + cell_height - 3, xml_escape(row_labels[r]));
    for (int c = 0; c < cols && c < static_cast<int>(values[r].size()); ++c) {
      const double v = values[r][c];
      const double t = std::clamp((v - low) / span, 0.0, 1.0);
      // White (low) → dark blue (high).
      const int red = static_cast<int>(std::lround(255 - t * (255 - 8)));
      const int green = static_cast<int>(std::lround(255 - t * (255 - 48)));
      const int blue = static_cast<int>(std::lround(255 - t * (255 - 107)));
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},{})\">"
          "<title>{} / {}: {:.4f}</title></rect>\n",
          left + c * cell_width, top + r * cell_height, cell_width, cell_height, red, green, blue,
          xml_escape(r < static_cast<int>(row_labels.size()) ? row_labels[r] : ""),
          xml_escape(c < static_cast<int>(column_labels.size()) ? column_labels[c] : ""), v);
    }
  }
  for (int c = 0; c < cols && c < static_cast<int>(column_labels.size()); ++c) {
    const int x = left + c * cell_width + cell_width / 2 + 3;
    const int y = top + rows * cell_height + 4;
    svg += fmt::format(
        "<text transform=\"translate({} {}) rotate(60)\">{}</text>\n", x - 6,
        y, xml_escape(column_labels[c]));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace autonet::darts
