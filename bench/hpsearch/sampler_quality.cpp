// Sampler quality on standard test functions: for each sampler and seed, an in-process ask/tell
// loop of `trials` sequential trials; prints one JSON line per (function, sampler, seed) with the
// best simple regret f(x) − f* after each checkpoint. bench/hpsearch/compare-optuna runs it
// beside bench/hpsearch/optuna_peer.py (the same functions and spaces in Python) and tabulates.
//
//   hpsearch_sampler_quality [--seeds 20] [--trials 100] [--samplers random,wr2p,tpe]
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "hpsearch/sampler.h"

namespace {

using autonet::hpsearch::Json;

struct TestFunction {
  std::string name;
  Json space;
  std::function<double(const Json&)> regret;  // f(x) − f*, ≥ 0
};

double at(const Json& p, const std::string& name) { return p[name].get<double>(); }

std::vector<TestFunction> test_functions() {
  std::vector<TestFunction> out;
  // Branin–Hoo on [−5, 10] × [0, 15]; f* = 0.397887 (three global minima).
  out.push_back({"branin",
                 {{"x1", {{"type", "float"}, {"low", -5}, {"high", 10}}},
                  {"x2", {{"type", "float"}, {"low", 0}, {"high", 15}}}},
                 [](const Json& p) {
                   const double x1 = at(p, "x1"), x2 = at(p, "x2");
                   const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
                   const double f = std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) +
                                    10 * (1 - t) * std::cos(x1) + 10;
                   return f - 0.39788735772973816;
                 }});
  // Hartmann-6 on [0, 1]^6; f* = −3.32237.
  Json h6 = Json::object();
  for (int i = 1; i <= 6; ++i)
    h6["x" + std::to_string(i)] = {{"type", "float"}, {"low", 0}, {"high", 1}};
  out.push_back({"hartmann6", h6, [](const Json& p) {
                   static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
                   static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                                  {0.05, 10, 17, 0.1, 8, 14},
                                                  {3, 3.5, 1.7, 10, 17, 8},
                                                  {17, 8, 0.05, 10, 0.1, 14}};
                   static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                                  {2329, 4135, 8307, 3736, 1004, 9991},
                                                  {2348, 1451, 3522, 2883, 3047, 6650},
                                                  {4047, 8828, 8732, 5743, 1091, 381}};
                   double f = 0;
                   for (int i = 0; i < 4; ++i) {
                     double inner = 0;
                     for (int j = 0; j < 6; ++j) {
                       const double d = at(p, "x" + std::to_string(j + 1)) - P[i][j] * 1e-4;
                       inner += A[i][j] * d * d;
                     }
                     f -= alpha[i] * std::exp(-inner);
                   }
                   return f + 3.322368011415515;
                 }});
  // Rosenbrock in 10 dimensions on [−5, 10]^10; f* = 0 at (1, …, 1).
  Json r10 = Json::object();
  for (int i = 1; i <= 10; ++i)
    r10["x" + std::to_string(i)] = {{"type", "float"}, {"low", -5}, {"high", 10}};
  out.push_back({"rosenbrock10", r10, [](const Json& p) {
                   double f = 0;
                   for (int i = 1; i < 10; ++i) {
                     const double x = at(p, "x" + std::to_string(i));
                     const double y = at(p, "x" + std::to_string(i + 1));
                     f += 100 * (y - x * x) * (y - x * x) + (1 - x) * (1 - x);
                   }
                   return f;
                 }});
  // A training-like function with log-scaled and integer parameters; f* = 0 at lr = 10^−2.5,
  // layers = 4, units = 128, dropout = 0.2.
  out.push_back({"mixed",
                 {{"lr", {{"type", "float"}, {"low", 1e-5}, {"high", 1}, {"log", true}}},
                  {"layers", {{"type", "int"}, {"low", 1}, {"high", 8}}},
                  {"units", {{"type", "int"}, {"low", 8}, {"high", 512}, {"log", true}}},
                  {"dropout", {{"type", "float"}, {"low", 0}, {"high", 0.5}}}},
                 [](const Json& p) {
                   const double lr = std::log10(at(p, "lr")) + 2.5;
                   const double layers = at(p, "layers") - 4;
                   const double units = std::log2(at(p, "units")) - 7;
                   const double dropout = at(p, "dropout") - 0.2;
                   return lr * lr + 0.3 * layers * layers + 0.25 * units * units + 4 * dropout * dropout;
                 }});
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace autonet::hpsearch;
  int seeds = 20, trials = 100;
  std::vector<std::string> samplers{"random", "wr2p", "tpe"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--seeds") seeds = std::stoi(value);
    else if (flag == "--trials") trials = std::stoi(value);
    else if (flag == "--samplers") samplers = split(value);
    else {
      std::cerr << "hpsearch_sampler_quality: unknown flag " << flag << "\n";
      return 2;
    }
  }
  try {
    for (const TestFunction& f : test_functions()) {
      const Space space = Space::from_json(f.space);
      for (const std::string& name : samplers) {
        for (int seed = 0; seed < seeds; ++seed) {
          auto sampler = make_sampler({{"name", name}}, space, seed, Direction::Minimize);
          double best = INFINITY;
          Json curve = Json::array();
          for (int i = 0; i < trials; ++i) {
            TrialRecord t;
            t.number = i;
            t.state = TrialState::Complete;
            t.params = *sampler->ask(i);
            t.value = f.regret(t.params);
            best = std::min(best, *t.value);
            curve.push_back(best);
            sampler->tell(t);
          }
          std::cout << Json{{"function", f.name}, {"sampler", "autonet " + name}, {"seed", seed},
                            {"best", curve}}
                           .dump()
                    << "\n";
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "hpsearch_sampler_quality: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
