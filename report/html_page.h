// A self-contained HTML page (utf-8, one small style sheet, figures as inline SVG), built top to
// bottom. Text arguments are escaped here; markup arguments (figures from report/chart.h and
// report/svg.h) are inserted as they are.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autonet::report {

class HtmlPage {
 public:
  // <title> is `title`, and the page opens with `heading` (the title when empty) as its <h1>.
  explicit HtmlPage(std::string_view title, std::string_view heading = {});

  void heading(int level, std::string_view text);  // <h2>, <h3>, ...
  void paragraph(std::string_view text);
  void preformatted(std::string_view text);
  void markup(std::string_view html);  // a figure, or markup made by this library
  // A two-column table: one row per (key, value).
  void key_value_table(const std::vector<std::pair<std::string, std::string>>& rows);
  // A table with a header row; each row as many cells as the header.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  // What is added between begin_row() and end_row() is laid out side by side, wrapping; what is
  // added between begin_group() and end_group() stays together as one item of a row.
  void begin_row();
  void end_row();
  void begin_group();
  void end_group();

  std::string str() const;  // the page, closed

 private:
  std::string body_;
};

}  // namespace autonet::report
