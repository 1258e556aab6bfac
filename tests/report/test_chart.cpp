// Charts and pages: what they draw, checked in the SVG text.
#include <gtest/gtest.h>

#include <cmath>

#include "report/chart.h"
#include "report/html_page.h"
#include "report/svg.h"
#include "tests/test_text.h"

namespace autonet::report {
namespace {

using test::count_occurrences;

TEST(LineChart, ALonePointOfALineIsDrawnAsADot) {
  // A trial pruned after its first report: one point, which a polyline cannot show.
  Series lone{.name = "trial 3", .x = {1}, .y = {0.7}, .dots = Dots::None, .tips = {"trial 3 step 1"}};
  Series curve{.name = "trial 4", .x = {1, 2, 3}, .y = {0.9, 0.5, 0.4}, .dots = Dots::None};
  const std::string svg = line_chart({.title = "curves"}, {lone, curve});
  EXPECT_EQ(count_occurrences(svg, "<circle"), 1u);
  EXPECT_NE(svg.find("<title>trial 3 step 1</title></circle>"), std::string::npos) << svg;
  EXPECT_EQ(count_occurrences(svg, "<polyline"), 1u);
}

TEST(LineChart, DotsOnFewPointsOnlyUnlessAsked) {
  Series few{.name = "few", .x = {1, 2, 3}, .y = {1, 2, 3}};
  Series many{.name = "many"};
  for (int i = 0; i < 41; ++i) many.x.push_back(i), many.y.push_back(i);
  EXPECT_EQ(count_occurrences(line_chart({}, {few}), "<circle"), 3u);
  EXPECT_EQ(count_occurrences(line_chart({}, {many}), "<circle"), 0u);
  many.dots = Dots::All;
  many.line = false;
  const std::string scatter = line_chart({}, {many});
  EXPECT_EQ(count_occurrences(scatter, "<circle"), 41u);
  EXPECT_EQ(count_occurrences(scatter, "<polyline"), 0u);
}

TEST(LineChart, SkipsNonFiniteAndOnALogAxisNonPositivePoints) {
  Series s{.name = "s", .x = {0.001, 0.01, 0, -1, 0.1, 1}, .y = {1, 2, 3, 4, std::nan(""), 6}};
  const std::string log_x = line_chart({.x = {"lr", Scale::Log}}, {s});
  EXPECT_EQ(count_occurrences(log_x, "<circle"), 3u);  // 0 and -1 have no place on a log axis; NaN none at all
  EXPECT_NE(log_x.find("lr (log scale)"), std::string::npos);
  for (const char* tick : {">0.001<", ">0.01<", ">0.1<", ">1<"}) EXPECT_NE(log_x.find(tick), std::string::npos) << tick;
  EXPECT_EQ(count_occurrences(line_chart({.x = {"x"}}, {s}), "<circle"), 5u);
}

TEST(LineChart, EscapesEveryText) {
  Series s{.name = "a<b", .x = {1, 2}, .y = {1, 2}};
  const std::string svg = line_chart({.title = "\"T\" & co", .x = {"x's"}, .y = {"<y>"}}, {s});
  EXPECT_NE(svg.find("&quot;T&quot; &amp; co"), std::string::npos);
  EXPECT_NE(svg.find("x&#39;s"), std::string::npos);
  EXPECT_NE(svg.find("&lt;y&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">a&lt;b<"), std::string::npos);  // the legend
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
}

TEST(LineChart, CategoricalAxisNamesEachCategory) {
  Series s{.x = {0, 2}, .y = {1, 3}, .line = false};
  const std::string svg = line_chart({.x = {"optimizer", Scale::Linear, {"sgd", "adam", "rmsprop"}}}, {s});
  for (const char* name : {">sgd<", ">adam<", ">rmsprop<"}) EXPECT_NE(svg.find(name), std::string::npos) << name;
}

TEST(LineChart, AnAxisWithItsOwnSpanShowsAllOfIt) {
  Series s{.x = {0.01}, .y = {1}, .line = false};
  const std::string svg = line_chart({.x = {.label = "lr", .scale = Scale::Log, .low = 1e-4, .high = 1}}, {s});
  for (const char* tick : {">0.0001<", ">0.001<", ">0.1<", ">1<"}) EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  EXPECT_NE(svg.find("<circle cx=\"342.0\""), std::string::npos) << svg;  // half way: 64 + 0.5 · 556
}

TEST(LineChart, SaysSoWithoutData) {
  EXPECT_NE(line_chart({.title = "empty"}, {}).find("no data yet"), std::string::npos);
}

TEST(HeatMap, OneCellPerValueFromWhiteToDarkBlue) {
  const std::string svg = heat_map("α", {{0, 1}, {0.5, 0.25}}, {"n2←c0", "n2←c1"}, {"none", "skip"}, 0, 1);
  EXPECT_EQ(count_occurrences(svg, "<rect x="), 5u);  // the background and 4 cells
  EXPECT_NE(svg.find("rgb(255,255,255)"), std::string::npos);
  EXPECT_NE(svg.find("rgb(8,48,107)"), std::string::npos);
  EXPECT_NE(svg.find("<title>n2←c0 / skip: 1.0000</title>"), std::string::npos);
}

TEST(BarChart, BarsScaleWithTheirValue) {
  const std::string svg = bar_chart("importance", {{"x", 0.75}, {"y", 0.25}}, 1.0);
  EXPECT_NE(svg.find("width=\"360.0\""), std::string::npos) << svg;  // 0.75 of 480
  EXPECT_NE(svg.find("width=\"120.0\""), std::string::npos);
}

TEST(HtmlPage, EscapesTextAndKeepsMarkup) {
  HtmlPage page("a <title>");
  page.key_value_table({{"key & co", "\"value\""}});
  page.markup("<svg></svg>");
  page.preformatted("if (a < b)");
  const std::string html = page.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>a &lt;title&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<th>key &amp; co</th><td>&quot;value&quot;</td>"), std::string::npos);
  EXPECT_NE(html.find("<svg></svg>"), std::string::npos);
  EXPECT_NE(html.find("<pre>if (a &lt; b)</pre>"), std::string::npos);
  EXPECT_TRUE(html.ends_with("</body></html>\n"));
}

TEST(InlineSvg, DropsTheXmlProlog) {
  EXPECT_EQ(inline_svg("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg>x</svg>\n"), "<svg>x</svg>\n");
  EXPECT_EQ(inline_svg("no drawing"), "");
}

}  // namespace
}  // namespace autonet::report
