#include "report/svg.h"

#include <fmt/core.h>

#include "report/escape.h"

namespace autonet::report {
namespace {

// A hover tip: the element's <title> child, or nothing.
std::string tip_element(std::string_view tip) {
  return tip.empty() ? std::string() : fmt::format("<title>{}</title>", xml_escape(tip));
}

// `<name attributes>tip</name>`, or a self-closed element when there is no tip.
std::string element(std::string_view name, const std::string& attributes, std::string_view tip) {
  if (tip.empty()) return fmt::format("<{} {}/>\n", name, attributes);
  return fmt::format("<{} {}>{}</{}>\n", name, attributes, tip_element(tip), name);
}

}  // namespace

Svg::Svg(double width, double height, int font_size)
    : width_(width), height_(height), font_size_(font_size) {
  rect(0, 0, width, height, "fill=\"white\"");
}

void Svg::text(double x, double y, std::string_view content, std::string_view attributes) {
  body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" {}>{}</text>\n", x, y, attributes,
                       xml_escape(content));
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view attributes) {
  body_ += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" {}/>\n", x1,
                       y1, x2, y2, attributes);
}

void Svg::rect(double x, double y, double width, double height, std::string_view attributes,
               std::string_view tip) {
  body_ += element("rect",
                   fmt::format("x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" {}",
                               x, y, width, height, attributes),
                   tip);
}

void Svg::circle(double cx, double cy, double r, std::string_view attributes, std::string_view tip) {
  body_ += element(
      "circle", fmt::format("cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" {}", cx, cy, r, attributes), tip);
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points,
                   std::string_view attributes, std::string_view tip) {
  std::string coordinates;
  for (const auto& [x, y] : points) coordinates += fmt::format("{:.1f},{:.1f} ", x, y);
  body_ += element("polyline", fmt::format("fill=\"none\" {} points=\"{}\"", attributes, coordinates),
                   tip);
}

std::string Svg::str() const {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:g}\" height=\"{:g}\" "
      "viewBox=\"0 0 {:g} {:g}\" font-family=\"sans-serif\" font-size=\"{}\">\n{}</svg>\n",
      width_, height_, width_, height_, font_size_, body_);
}

std::string inline_svg(std::string_view document) {
  const size_t start = document.find("<svg");
  return start == std::string_view::npos ? std::string() : std::string(document.substr(start));
}

}  // namespace autonet::report
