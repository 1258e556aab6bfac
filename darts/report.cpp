// The HTML report of a run folder.
#include "darts/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "darts/cell_layout.h"
#include "darts/genotype.h"
#include "darts/svg_plot.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Graphviz output without the XML prolog and DOCTYPE, so it can sit inside HTML.
std::string inline_svg(std::string svg) {
  const size_t start = svg.find("<svg");
  return start == std::string::npos ? std::string() : svg.substr(start);
}

double number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

// Row labels of a search cell's α: "n2←c0", "n3←n2", ... (c0 = cell k−2, c1 = cell k−1).
std::vector<std::string> edge_labels(int nodes) {
  std::vector<std::string> labels;
  for (const CellEdge& e : search_cell_edges(nodes, false))
    labels.push_back(fmt::format("n{}←{}", e.node,
                                 e.input < 2 ? fmt::format("c{}", e.input)
                                             : fmt::format("n{}", e.input)));
  return labels;
}

std::vector<std::vector<double>> matrix(const json& j) {
  std::vector<std::vector<double>> m;
  for (const json& row : j) m.push_back(row.get<std::vector<double>>());
  return m;
}

// Mean over edges of each primitive's softmax weight.
std::vector<double> column_means(const std::vector<std::vector<double>>& m) {
  std::vector<double> means(m.empty() ? 0 : m[0].size(), 0.0);
  for (const auto& row : m)
    for (size_t c = 0; c < row.size() && c < means.size(); ++c) means[c] += row[c] / m.size();
  return means;
}

std::string alpha_section(const std::vector<json>& epochs, int nodes) {
  std::vector<const json*> with_alpha;
  for (const json& e : epochs)
    if (e.contains("alpha_normal") && e.contains("alpha_reduce")) with_alpha.push_back(&e);
  if (with_alpha.empty()) return {};
  const std::vector<std::string>& prims = cnn_primitives();
  const std::vector<std::string> rows = edge_labels(nodes);
  std::string html = "<h2>Architecture weights α (softmax per edge)</h2>\n";

  // Mean weight of each primitive over the epochs.
  for (const char* which : {"alpha_normal", "alpha_reduce"}) {
    std::vector<Series> series(prims.size());
    for (size_t k = 0; k < prims.size(); ++k) series[k].name = prims[k];
    for (const json* e : with_alpha) {
      const std::vector<double> means = column_means(matrix((*e)[which]));
      for (size_t k = 0; k < prims.size() && k < means.size(); ++k) {
        series[k].x.push_back(number(*e, "epoch") + 1);
        series[k].y.push_back(means[k]);
      }
    }
    html += svg_line_chart(fmt::format("{} cell: mean weight per operation",
                                       which == std::string("alpha_normal") ? "normal" : "reduce"),
                           "epoch", "mean softmax(α)", series, 560, 300);
  }

  // Heat maps at up to 6 epochs spread over the run, the last one included.
  const size_t n = with_alpha.size(), shown = std::min<size_t>(n, 6);
  html += "<h3>α over the epochs</h3>\n";
  for (const char* which : {"alpha_normal", "alpha_reduce"}) {
    html += "<div class=\"row\">\n";
    for (size_t i = 0; i < shown; ++i) {
      const size_t idx = shown == 1 ? n - 1 : i * (n - 1) / (shown - 1);
      const json& e = *with_alpha[idx];
      const auto m = matrix(e[which]);
      double high = 0;
      for (const auto& r : m)
        for (double v : r) high = std::max(high, v);
      html += svg_heatmap(fmt::format("{} after epoch {}",
                                      which == std::string("alpha_normal") ? "normal" : "reduce",
                                      static_cast<int64_t>(number(e, "epoch")) + 1),
                          m, rows, prims, 0.0, std::max(high, 1e-9));
    }
    html += "</div>\n";
  }
  return html;
}

}  // namespace

void write_report(const RunFolder& run, const std::string& title) {
  const std::vector<json> records = run.read_log();
  std::vector<json> epochs, steps;
  for (const json& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "epoch") epochs.push_back(r);
    if (kind == "step") steps.push_back(r);
  }
  const json& config = run.config();

  // Which held-out set the run evaluates on: valid (search) or test (training).
  std::vector<std::string> eval_sets;
  for (const char* set : {"valid", "test"})
    for (const json& e : epochs)
      if (e.contains(fmt::format("{}_loss", set))) {
        eval_sets.push_back(set);
        break;
      }

  auto curves = [&](const std::string& metric, double scale) {
    std::vector<Series> series;
    Series step_series{"train (running, per summary)", {}, {}};
    for (const json& s : steps) {
      const double steps_per_epoch = number(s, "steps_per_epoch");
      step_series.x.push_back(number(s, "epoch") + number(s, "batch") / steps_per_epoch);
      step_series.y.push_back(scale * number(s, metric.c_str()));
    }
    if (!step_series.x.empty()) series.push_back(step_series);
    for (const std::string& set : std::vector<std::string>{"train"}) {
      Series s{set + " (epoch)", {}, {}};
      for (const json& e : epochs) {
        s.x.push_back(number(e, "epoch") + 1);
        s.y.push_back(scale * number(e, (set + "_" + metric).c_str()));
      }
      series.push_back(s);
    }
    for (const std::string& set : eval_sets) {
      Series s{set + " (epoch)", {}, {}};
      for (const json& e : epochs) {
        s.x.push_back(number(e, "epoch") + 1);
        s.y.push_back(scale * number(e, (set + "_" + metric).c_str()));
      }
      series.push_back(s);
    }
    return series;
  };

  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n"
      "<style>body{{font-family:sans-serif;margin:24px;max-width:1250px}} "
      "table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left}} .row{{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}} "
      "pre{{background:#f6f6f6;padding:8px;overflow-x:auto}}</style></head><body>\n"
      "<h1>{}</h1>\n",
      xml_escape(title), xml_escape(title));

  // Summary table.
  html += "<table>\n";
  auto row = [&](const std::string& k, const std::string& v) {
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", xml_escape(k), xml_escape(v));
  };
  row("run folder", fs::absolute(run.dir()).string());
  row("dataset", config.value("dataset", "?"));
  row("device", config.contains("run") ? config["run"].value("device", "?")
                                         : config.value("device", "?"));
  row("epochs done", fmt::format("{} of {}", epochs.size(), config.value("epochs", 0)));
  if (!epochs.empty()) {
    const json& last = epochs.back();
    row("last epoch", fmt::format("train loss {:.4f}, train acc {:.2f}%", number(last, "train_loss"),
                                  100 * number(last, "train_acc")));
    for (const std::string& set : eval_sets)
      row(set, fmt::format("loss {:.4f}, acc {:.2f}% (best {:.2f}%)",
                           number(last, (set + "_loss").c_str()),
                           100 * number(last, (set + "_acc").c_str()),
                           100 * number(last, (set + "_acc_best").c_str())));
    if (last.contains("genotype")) row("genotype", last["genotype"].get<std::string>());
    double seconds = 0;
    for (const json& e : epochs) seconds += std::isfinite(number(e, "seconds")) ? number(e, "seconds") : 0;
    row("time (epochs logged)", fmt::format("{:.0f} s", seconds));
  }
  html += "</table>\n";

  html += "<h2>Training curves</h2>\n<div class=\"row\">\n";
  html += svg_line_chart("Loss (cross-entropy)", "epoch", "loss", curves("loss", 1.0));
  html += svg_line_chart("Accuracy", "epoch", "accuracy (%)", curves("acc", 100.0));
  {
    Series lr{"weights' learning rate", {}, {}};
    for (const json& e : epochs) {
      lr.x.push_back(number(e, "epoch") + 1);
      lr.y.push_back(number(e, "lr"));
    }
    html += svg_line_chart("Learning rate", "epoch", "lr", {lr});
  }
  html += "</div>\n";

  html += alpha_section(epochs, config.value("nodes", 4));

  // Cells: Graphviz's SVG when it exists, the DOT text otherwise.
  std::string cells;
  for (const char* which : {"normal", "reduce"}) {
    const fs::path svg = run.path(std::string(which) + ".svg");
    const fs::path dot = run.path(std::string(which) + ".dot");
    if (fs::exists(svg)) {
      cells += fmt::format("<div><h3>{} cell</h3>{}</div>\n", which, inline_svg(read_text(svg)));
    } else if (fs::exists(dot)) {
      cells += fmt::format("<div><h3>{} cell (Graphviz DOT; install graphviz for a drawing)</h3>"
                           "<pre>{}</pre></div>\n",
                           which, xml_escape(read_text(dot)));
    }
  }
  if (!cells.empty()) {
    html += "<h2>Cells</h2>\n";
    if (fs::exists(run.path("genotype.txt")))
      html += fmt::format("<pre>{}</pre>\n", xml_escape(read_text(run.path("genotype.txt"))));
    html += "<div class=\"row\">\n" + cells + "</div>\n";
  }

  html += fmt::format("<h2>Resolved config</h2>\n<pre>{}</pre>\n", xml_escape(config.dump(2)));
  html += "</body></html>\n";
  run.write_file("report.html", html);
}

}  // namespace autonet::darts
