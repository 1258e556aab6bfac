#include "report/html_page.h"

#include <fmt/core.h>

#include "report/escape.h"

namespace autonet::report {
namespace {

constexpr std::string_view kStyle =
    "body{font-family:sans-serif;margin:24px;max-width:1250px} "
    "table{border-collapse:collapse;font-size:13px} "
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left} "
    ".row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start} "
    "svg{margin:6px 0} pre{background:#f6f6f6;padding:8px;overflow-x:auto}";

}  // namespace

HtmlPage::HtmlPage(std::string_view title, std::string_view heading) {
  body_ = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n"
      "<style>{}</style></head><body>\n<h1>{}</h1>\n",
      xml_escape(title), kStyle, xml_escape(heading.empty() ? title : heading));
}

void HtmlPage::heading(int level, std::string_view text) {
  body_ += fmt::format("<h{}>{}</h{}>\n", level, xml_escape(text), level);
}

void HtmlPage::paragraph(std::string_view text) { body_ += fmt::format("<p>{}</p>\n", xml_escape(text)); }

void HtmlPage::preformatted(std::string_view text) {
  body_ += fmt::format("<pre>{}</pre>\n", xml_escape(text));
}

void HtmlPage::markup(std::string_view html) { body_ += html; }

void HtmlPage::key_value_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  body_ += "<table>\n";
  for (const auto& [key, value] : rows)
    body_ += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", xml_escape(key), xml_escape(value));
  body_ += "</table>\n";
}

void HtmlPage::table(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const std::string& h : header) body_ += fmt::format("<th>{}</th>", xml_escape(h));
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (const std::string& cell : row) body_ += fmt::format("<td>{}</td>", xml_escape(cell));
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlPage::begin_row() { body_ += "<div class=\"row\">\n"; }
void HtmlPage::end_row() { body_ += "</div>\n"; }
void HtmlPage::begin_group() { body_ += "<div>\n"; }
void HtmlPage::end_group() { body_ += "</div>\n"; }

std::string HtmlPage::str() const { return body_ + "</body></html>\n"; }

}  // namespace autonet::report
