#include <gtest/gtest.h>

#include <cmath>

#include "hpsearch/space.h"
#include "hpsearch/study.h"
#include "runtime/error.h"

namespace autonet::hpsearch {
namespace {

Json parse(const char* text) { return Json::parse(text); }

// Expects `body` to throw autonet::Error whose message contains `needle`.
template <class F>
void expect_error(F&& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Space, ParsesEveryTypeInOrderWithDefaults) {
  const Space s = Space::from_json(parse(R"({
    "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": true, "default": 0.01},
    "width": {"type": "int", "low": 8, "high": 64},
    "opt": {"type": "categorical", "choices": ["sgd", "adam"]}})"));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "lr");
  EXPECT_EQ(s[1].name, "width");
  EXPECT_EQ(s[2].name, "opt");
  EXPECT_EQ(s[0].default_value, 0.01);
  EXPECT_EQ(s[1].default_value, 36);  // midpoint when no default
  EXPECT_EQ(s[2].default_value, "sgd");
  EXPECT_EQ(s.params_json(s.defaults()), parse(R"({"lr": 0.01, "width": 36, "opt": "sgd"})"));
  // The JSON form round-trips.
  EXPECT_EQ(Space::from_json(s.to_json()).to_json(), s.to_json());
}

TEST(Space, UnitCoordinatesMapThroughLogAndRoundInts) {
  const Space s = Space::from_json(parse(R"({
    "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": true},
    "width": {"type": "int", "low": 0, "high": 9},
    "opt": {"type": "categorical", "choices": ["a", "b", "c", "d"]}})"));
  const Point x = s.decode({0.5, 0.5, 0.5});
  EXPECT_NEAR(x[0], 0.01, 1e-15);  // geometric midpoint
  EXPECT_EQ(x[1], 5);              // round(4.5) away from zero
  EXPECT_EQ(x[2], 2);
  const std::vector<double> u = s.encode(x);
  EXPECT_NEAR(u[0], 0.5, 1e-12);
  EXPECT_NEAR(u[1], 5.5 / 10.0, 1e-12);  // the centre of 5's cell in [−0.5, 9.5]
  EXPECT_NEAR(u[2], 2.5 / 4.0, 1e-12);  // category cell centre
  EXPECT_EQ(s.decode({1.0, 1.0, 1.0})[2], 3);
  EXPECT_EQ(s.decode({0.0, 0.0, 0.0})[0], 0.001);
}

TEST(Space, BadConfigsFailWithClearErrors) {
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "gaussian", "low": 0, "high": 1}})")); },
               "unknown type \"gaussian\"");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": 1, "high": 1}})")); },
               "empty range");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": 2, "high": 1}})")); },
               "empty range");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": 0, "high": 1, "log": true}})")); },
               "log scale needs positive bounds");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": -1, "high": 1, "log": true}})")); },
               "log scale needs positive bounds");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "int", "low": 0.5, "high": 3}})")); },
               "int bounds must be integers");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "high": 3}})")); },
               "missing \"low\"");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": "a", "high": 3}})")); },
               "must be a number");
  expect_error([] { Space::from_json(parse(R"({"x": {"low": 0, "high": 3}})")); }, "missing \"type\"");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": 0, "hi": 3}})")); },
               "unknown field \"hi\"");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "float", "low": 0, "high": 1, "default": 2}})")); },
               "outside");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "categorical", "choices": []}})")); },
               "non-empty \"choices\"");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "categorical", "choices": ["a", "a"]}})")); },
               "appears twice");
  expect_error([] { Space::from_json(parse(R"({"x": {"type": "categorical", "choices": ["a"], "default": "b"}})")); },
               "not one of its choices");
  expect_error([] { Space::from_json(parse(R"({})")); }, "search space is empty");
  expect_error([] { Space::from_json(parse(R"([1, 2])")); }, "must be an object");
}

TEST(StudyConfig, BadStudyConfigsFailWithClearErrors) {
  const char* space = R"("space": {"x": {"type": "float", "low": 0, "high": 1}})";
  auto config = [&](const std::string& extra) {
    std::string text = "{";
    text.append(space).append(extra).append("}");
    return StudyConfig::from_json(Json::parse(text));
  };
  EXPECT_NO_THROW(config(""));
  expect_error([&] { config(R"(, "samplr": {"name": "wr2p"})"); }, "unknown field \"samplr\"");
  expect_error([&] { config(R"(, "sampler": {"name": "bayes"})"); }, "unknown sampler 'bayes'");
  expect_error([&] { config(R"(, "sampler": {"name": "wr2p", "alpha": -1})"); }, "alpha");
  expect_error([&] { config(R"(, "sampler": {"name": "wr2p", "weights": "linear"})"); }, "weights must be");
  expect_error([&] { config(R"(, "sampler": {"name": "wr2p", "delta": 0.1})"); }, "unknown option \"delta\"");
  expect_error([&] { config(R"(, "direction": "maximize")"); }, "for a maximised objective");
  EXPECT_NO_THROW(config(R"(, "direction": "maximize", "sampler": {"name": "wr2p", "weights": "rank"})"));
  expect_error([&] { config(R"(, "direction": "up")"); }, "direction must be");
  expect_error([&] { config(R"(, "pruner": {"name": "bohb"})"); }, "unknown pruner 'bohb'");
  expect_error([&] { config(R"(, "pruner": {"name": "asha", "reduction_factor": 1})"); }, "reduction_factor >= 2");
  expect_error([&] { config(R"(, "sampler": {"name": "tpe", "n_ei_candidates": 0})"); },
               "n_ei_candidates must be in [1, 100000]");
  expect_error([&] { config(R"(, "sampler": {"name": "tpe", "multivariate": 1})"); },
               "sampler 'tpe': \"multivariate\" must be true or false");
  expect_error([&] { config(R"(, "sampler": {"name": "tpe", "gamma": 0.2})"); }, "unknown option \"gamma\"");
  expect_error([&] { config(R"(, "pruner": {"name": "hyperband", "max_resource": "max"})"); },
               "\"max_resource\" must be an integer or \"auto\"");
  expect_error([&] { config(R"(, "pruner": {"name": "hyperband", "min_resource": 4, "max_resource": 3})"); },
               "max_resource (3) must be >= min_resource (4)");
  EXPECT_NO_THROW(config(R"(, "pruner": {"name": "hyperband", "max_resource": "auto"})"));
  expect_error([&] { config(R"(, "budget": {"trials": 0})"); }, "budget values");
  expect_error([&] { config(R"(, "budget": {"time": 3})"); }, "unknown budget field");
  expect_error([&] { config(R"(, "workload": {"epochs": 3})"); }, "\"workload\" must be an object with a \"name\"");
  expect_error([] { StudyConfig::from_json(Json::parse(R"({"space": {"c": {"type": "categorical", "choices": [1, 2]}}, "sampler": {"name": "seed-compat"}})")); },
               "knows floats and ints only");
  expect_error([] { StudyConfig::from_json(Json::parse(R"({"name": "x"})")); }, "missing \"space\"");
  expect_error([] { load_study_config("/nonexistent/study.json"); }, "cannot read study config");
}

// A value of the wrong JSON type names its field (not a raw json type_error).
TEST(StudyConfig, OptionsOfTheWrongTypeNameTheirField) {
  const std::string space = R"("space": {"x": {"type": "float", "low": 0, "high": 1}})";
  auto config = [&](const std::string& extra) {
    return StudyConfig::from_json(Json::parse("{" + space + extra + "}"));
  };
  expect_error([&] { config(R"(, "budget": {"trials": "5"})"); }, "budget: \"trials\" must be an integer, got \"5\"");
  expect_error([&] { config(R"(, "budget": {"wall_s": true})"); }, "\"wall_s\" must be a number");
  expect_error([&] { config(R"(, "pruner": {"name": "median", "startup_trials": "3"})"); },
               "pruner 'median': \"startup_trials\" must be an integer");
  expect_error([&] { config(R"(, "pruner": {"name": "asha", "diverge_above": "big"})"); },
               "pruner 'asha': \"diverge_above\" must be a number");
  expect_error([&] { config(R"(, "sampler": {"name": "grid", "points": 2.5})"); },
               "sampler 'grid': \"points\" must be an integer, got 2.5");
  expect_error([&] { config(R"(, "sampler": {"name": "wr2p", "explore": "0.1"})"); },
               "sampler 'wr2p': \"explore\" must be a number");
  expect_error([&] { config(R"(, "seed": "7")"); }, "\"seed\" must be an integer");
}

}  // namespace
}  // namespace autonet::hpsearch
