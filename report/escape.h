// Text placed into HTML or SVG (element content and attribute values alike) goes through
// xml_escape, the one escaping function of the reports.
#pragma once
#include <string>
#include <string_view>

namespace autonet::report {

// & < > " ' become entities; UTF-8 text (non-ASCII included) passes through unchanged, since the
// pages declare utf-8. Control characters that XML forbids (all below U+0020 except tab, line
// feed and carriage return) become U+FFFD, so a stray byte cannot make an SVG unreadable.
std::string xml_escape(std::string_view text);

}  // namespace autonet::report
