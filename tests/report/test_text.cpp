// Escaping and the tick rule of every chart.
#include <gtest/gtest.h>

#include "report/escape.h"
#include "report/ticks.h"

namespace autonet::report {
namespace {

TEST(XmlEscape, EscapesMarkupAndBothQuotes) {
  EXPECT_EQ(xml_escape(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(xml_escape("&amp;"), "&amp;amp;");  // escaping is not idempotent, by design
}

TEST(XmlEscape, KeepsUtf8AndWhitespaceReplacesForbiddenControls) {
  EXPECT_EQ(xml_escape("n2←c0 µ=0.5 café 日本"), "n2←c0 µ=0.5 café 日本");
  EXPECT_EQ(xml_escape("a\tb\nc\r"), "a\tb\nc\r");
  EXPECT_EQ(xml_escape(std::string("x\x01y\0z", 5)), "x\uFFFDy\uFFFDz");
}

TEST(NiceTicks, RoundStepsOfOneTwoTwoAndAHalfOrFive) {
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(nice_ticks(0, 10, 4), (std::vector<double>{0, 2.5, 5, 7.5, 10}));
  EXPECT_EQ(nice_ticks(3, 47), (std::vector<double>{10, 20, 30, 40}));
  const std::vector<double> around_zero = nice_ticks(-0.3, 0.3);
  EXPECT_NE(std::find(around_zero.begin(), around_zero.end(), 0.0), around_zero.end());  // exactly 0
  EXPECT_EQ(nice_ticks(2, 2), std::vector<double>{2});
}

TEST(LogTicks, PowersOfTenOrOneTwoFiveWithinADecade) {
  EXPECT_EQ(log_ticks(1e-4, 0.1), (std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1}));
  EXPECT_EQ(log_ticks(2, 30), (std::vector<double>{2, 5, 10, 20}));
  const std::vector<double> wide = log_ticks(1e-12, 1);  // every third power of 13
  ASSERT_EQ(wide.size(), 5u);
  EXPECT_DOUBLE_EQ(wide[1], 1e-9);
  EXPECT_EQ(log_ticks(3, 4), nice_ticks(3, 4));  // no 1-2-5 value inside: linear ticks
}

TEST(TickLabel, AsManyDecimalsAsTheStepNeeds) {
  EXPECT_EQ(tick_label(0.25, 0.25), "0.25");  // a 2.5-step needs one decimal more than its power
  EXPECT_EQ(tick_label(7.5, 2.5), "7.5");
  EXPECT_EQ(tick_label(40, 10), "40");
  EXPECT_EQ(tick_label(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(tick_label(0, 1e-5), "0");
  EXPECT_EQ(tick_label(3e-5, 1e-5), "3e-05");
  EXPECT_EQ(tick_label(2.5e6, 5e5), "2.5e+06");
}

}  // namespace
}  // namespace autonet::report
