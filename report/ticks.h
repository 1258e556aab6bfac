// Where the ticks of a chart axis go and how they are labelled: the one rule of every chart.
#pragma once
#include <string>
#include <vector>

namespace autonet::report {

// Round positions covering [low, high], about `count` of them: the step is 1, 2, 2.5 or 5 times a
// power of ten, the smallest of those not below (high − low) / count. {low} when high <= low.
std::vector<double> nice_ticks(double low, double high, int count = 5);

// Positions for a log axis over [low, high] (0 < low): the powers of ten inside (every k-th one,
// so that there are at most 7); with fewer than two of them, 1, 2 and 5 times each power of ten;
// with fewer than two of those, nice_ticks.
std::vector<double> log_ticks(double low, double high);

// The text of a tick at `value` among ticks `step` apart: as many decimals as the step needs
// (0.25 apart: two) while the value and the step lie in [1e-4, 1e6), otherwise 3 significant
// digits with an exponent.
std::string tick_label(double value, double step);

}  // namespace autonet::report
