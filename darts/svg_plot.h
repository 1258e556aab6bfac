// Small SVG charts drawn by our own code for the run reports (no plotting library): line charts
// with axes, ticks and a legend, and heat maps. The output is a standalone <svg> element that can
// be written inline into HTML.
#pragma once
#include <string>
#include <vector>

namespace autonet::darts {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite points are skipped
};

std::string svg_line_chart(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<Series>& series,
                           int width = 560, int height = 320);

// values[r][c] in [low, high] mapped onto a white → blue scale; each cell shows its value on hover.
std::string svg_heatmap(const std::string& title, const std::vector<std::vector<double>>& values,
                        const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& column_labels, double low, double high,
                        int cell_width = 22, int cell_height = 14);

std::string xml_escape(const std::string& text);

// Round tick positions covering [low, high] (about `count` of them).
std::vector<double> nice_ticks(double low, double high, int count = 5);

}  // namespace autonet::darts
