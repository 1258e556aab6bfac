// An SVG document built element by element. Text content and hover tips are escaped here;
// attribute strings are written as given (they come from our own code, never from data).
// Coordinates are pixels with the origin at the top left.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autonet::report {

class Svg {
 public:
  Svg(double width, double height, int font_size = 11);  // a white background included

  void text(double x, double y, std::string_view content, std::string_view attributes = {});
  void line(double x1, double y1, double x2, double y2, std::string_view attributes);
  void rect(double x, double y, double width, double height, std::string_view attributes,
            std::string_view tip = {});
  void circle(double cx, double cy, double r, std::string_view attributes, std::string_view tip = {});
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view attributes,
                std::string_view tip = {});

  // The finished <svg> element, ready to sit inline in HTML.
  std::string str() const;

 private:
  std::string body_;
  double width_, height_;
  int font_size_;
};

// An SVG file as written by Graphviz, less the XML prolog and DOCTYPE, so it can sit inside HTML;
// empty when the text holds no <svg> element.
std::string inline_svg(std::string_view document);

}  // namespace autonet::report
