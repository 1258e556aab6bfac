// The HTML report of a run folder.
#include "darts/tasks/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "darts/cnn/cell_layout.h"
#include "darts/genotype/genotype.h"
#include "report/chart.h"
#include "report/html_page.h"
#include "report/svg.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using report::Series;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

// Row labels of a search cell's α: "n2←c0", "n3←n2", ... (c0 = cell k−2, c1 = cell k−1).
std::vector<std::string> cnn_edge_labels(int nodes) {
  std::vector<std::string> labels;
  for (const CellEdge& e : search_cell_edges(nodes, false))
    labels.push_back(fmt::format("n{}←{}", e.node,
                                 e.input < 2 ? fmt::format("c{}", e.input)
                                             : fmt::format("n{}", e.input)));
  return labels;
}

// Row labels of the recurrent cell's α (§7.3): node i reads s_0..s_{i−1}, "s1←s0", "s2←s0", ...
std::vector<std::string> rnn_edge_labels(int nodes) {
  std::vector<std::string> labels;
  for (int i = 1; i <= nodes; ++i)
    for (int j = 0; j < i; ++j) labels.push_back(fmt::format("s{}←s{}", i, j));
  return labels;
}

// What differs between the reports of the kinds of runs: the α matrices in the epoch records,
// their rows and columns, the cell drawings, and accuracy (images) or perplexity (words).
struct Layout {
  std::vector<std::pair<std::string, std::string>> alphas;  // (log key, cell name)
  std::vector<std::pair<std::string, std::string>> betas;   // PC-DARTS's edge normalisation
  std::vector<int> edge_siblings;  // per edge: how many edges its node has (β's softmax)
  std::vector<std::string> edge_labels;
  std::vector<std::string> primitives;
  std::vector<std::string> drawings;  // run-folder drawings, "<name>.svg" or "<name>.dot"
  bool language_model = false;
};

Layout layout_of(const json& config) {
  const std::string kind = config.contains("run") ? config["run"].value("kind", "") : "";
  Layout l;
  if (kind.rfind("rnn", 0) == 0) {
    l.alphas = {{"alpha", "recurrent"}};
    l.edge_labels = rnn_edge_labels(8);
    l.primitives = rnn_primitives();
    l.drawings = {"recurrent"};
    l.language_model = true;
  } else {
    l.alphas = {{"alpha_normal", "normal"}, {"alpha_reduce", "reduce"}};
    l.betas = {{"beta_normal", "normal"}, {"beta_reduce", "reduce"}};
    for (const CellEdge& e : search_cell_edges(config.value("nodes", 4), false))
      l.edge_siblings.push_back(e.node);  // node k reads c0, c1 and nodes 2..k−1: k edges
    l.edge_labels = cnn_edge_labels(config.value("nodes", 4));
    l.primitives = cnn_primitives();
    l.drawings = {"normal", "reduce"};
  }
  return l;
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

void add_alpha_section(report::HtmlPage& page, const std::vector<json>& epochs, const Layout& layout) {
  std::vector<const json*> with_alpha;
  for (const json& e : epochs) {
    bool all = true;
    for (const auto& [key, cell] : layout.alphas) all = all && e.contains(key);
    if (all) with_alpha.push_back(&e);
  }
  if (with_alpha.empty()) return;
  const std::vector<std::string>& prims = layout.primitives;
  page.heading(2, "Architecture weights α (softmax per edge)");

  // Mean weight of each primitive over the epochs.
  for (const auto& [key, cell] : layout.alphas) {
    std::vector<Series> series(prims.size());
    for (size_t k = 0; k < prims.size(); ++k) series[k].name = prims[k];
    for (const json* e : with_alpha) {
      const std::vector<double> means = column_means(matrix((*e)[key]));
      for (size_t k = 0; k < prims.size() && k < means.size(); ++k) {
        series[k].x.push_back(number(*e, "epoch") + 1);
        series[k].y.push_back(means[k]);
      }
    }
    page.markup(report::line_chart({fmt::format("{} cell: mean weight per operation", cell),
                                    {"epoch"}, {"mean softmax(α)"}, 640, 300},
                                   series));
  }

  // Heat maps at up to 6 epochs spread over the run, the last one included.
  const size_t n = with_alpha.size(), shown = std::min<size_t>(n, 6);
  page.heading(3, "α over the epochs");
  for (const auto& [key, cell] : layout.alphas) {
    std::vector<size_t> picked;
    for (size_t i = 0; i < shown; ++i) picked.push_back(shown == 1 ? n - 1 : i * (n - 1) / (shown - 1));
    // One colour scale for all maps of a cell, from its smallest to its largest weight, so the
    // maps compare across epochs even while α is still close to uniform.
    double low = 1, high = 0;
    for (size_t idx : picked)
      for (const auto& r : matrix((*with_alpha[idx])[key]))
        for (double v : r) low = std::min(low, v), high = std::max(high, v);
    page.paragraph(fmt::format("{} cell: white = {:.4f}, dark blue = {:.4f}", cell, low, high));
    page.begin_row();
    for (size_t idx : picked) {
      const json& e = *with_alpha[idx];
      page.markup(report::heat_map(
          fmt::format("{} after epoch {}", cell, static_cast<int64_t>(number(e, "epoch")) + 1),
          matrix(e[key]), layout.edge_labels, prims, low, high > low ? high : low + 1e-9));
    }
    page.end_row();
  }
}

// PC-DARTS's β: a heat map per cell with a column per epoch, so each node's choice of inputs can
// be followed through the whole run. A cell shows an edge's softmax weight among its node's k
// edges times k — its share against an even split (1) — so that nodes with 2 and with 5 inputs
// share one colour scale.
void add_beta_section(report::HtmlPage& page, const std::vector<json>& epochs,
                      const Layout& layout) {
  bool first = true;
  for (const auto& [key, cell] : layout.betas) {
    std::vector<std::vector<double>> values;  // [edge][epoch]
    std::vector<std::string> columns;
    for (const json& e : epochs) {
      if (!e.contains(key)) continue;
      const std::vector<double> beta = e[key].get<std::vector<double>>();
      values.resize(std::max(values.size(), beta.size()));
      for (size_t r = 0; r < beta.size(); ++r) {
        const int siblings = r < layout.edge_siblings.size() ? layout.edge_siblings[r] : 1;
        values[r].push_back(beta[r] * siblings);
      }
      columns.push_back(fmt::format("{}", static_cast<int64_t>(number(e, "epoch")) + 1));
    }
    if (columns.empty()) continue;
    if (first)
      page.heading(2, "Edge weights β (softmax over each node's k incoming edges, times k)");
    first = false;
    double low = INFINITY, high = -INFINITY;
    for (const auto& row : values)
      for (double v : row) low = std::min(low, v), high = std::max(high, v);
    page.paragraph(fmt::format("{} cell, columns = epochs, 1 = an even split of the node's "
                               "inputs: white = {:.4f}, dark blue = {:.4f}",
                               cell, low, high));
    const int cell_width = columns.size() > 24 ? 12 : 22;  // 50 epochs stay on one screen
    page.markup(report::heat_map(fmt::format("{} cell: β per epoch", cell), values,
                                 layout.edge_labels, columns, low, high > low ? high : low + 1e-9,
                                 cell_width));
  }
}

}  // namespace

void write_report(const run::RunFolder& run, const std::string& title) {
  const std::vector<json> records = run.read_log();
  std::vector<json> epochs, steps;
  for (const json& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "epoch") epochs.push_back(r);
    if (kind == "step") steps.push_back(r);
  }
  const json& config = run.config();
  const Layout layout = layout_of(config);
  // Accuracy (images) or perplexity (words): the second curve and the summary's figure.
  const std::string metric = layout.language_model ? "ppl" : "acc";
  auto figure = [&](const json& r, const std::string& key) {
    const double v = number(r, key.c_str());
    return layout.language_model ? fmt::format("ppl {:.2f}", v) : fmt::format("acc {:.2f}%", 100 * v);
  };

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
    Series step_series{.name = "train (running mean)"};
    for (const json& s : steps) {
      // Position in the epoch: batches of the CNN loaders, rows of the batchified text.
      const double within = s.contains("rows") ? number(s, "row") / number(s, "rows")
                                               : number(s, "batch") / number(s, "steps_per_epoch");
      step_series.x.push_back(number(s, "epoch") + within);
      step_series.y.push_back(scale * number(s, metric.c_str()));
    }
    if (!step_series.x.empty()) series.push_back(step_series);
    for (const std::string& set : std::vector<std::string>{"train"}) {
      Series s{.name = set + " (epoch)"};
      for (const json& e : epochs) {
        s.x.push_back(number(e, "epoch") + 1);
        s.y.push_back(scale * number(e, (set + "_" + metric).c_str()));
      }
      series.push_back(s);
    }
    for (const std::string& set : eval_sets) {
      Series s{.name = set + " (epoch)"};
      for (const json& e : epochs) {
        s.x.push_back(number(e, "epoch") + 1);
        s.y.push_back(scale * number(e, (set + "_" + metric).c_str()));
      }
      series.push_back(s);
    }
    return series;
  };

  report::HtmlPage page(title);

  // Summary table.
  std::vector<std::pair<std::string, std::string>> summary;
  auto row = [&](const std::string& k, const std::string& v) { summary.emplace_back(k, v); };
  row("run folder", fs::absolute(run.dir()).string());
  row("dataset", config.value("dataset", "?"));
  row("device", config.contains("run") ? config["run"].value("device", "?")
                                         : config.value("device", "?"));
  row("epochs done", fmt::format("{} of {}", epochs.size(), config.value("epochs", 0)));
  if (!epochs.empty()) {
    const json& last = epochs.back();
    row("last epoch", fmt::format("train loss {:.4f}, train {}", number(last, "train_loss"),
                                  figure(last, "train_" + metric)));
    for (const std::string& set : eval_sets)
      row(set, fmt::format("loss {:.4f}, {} (best {})", number(last, (set + "_loss").c_str()),
                           figure(last, set + "_" + metric),
                           figure(last, layout.language_model ? "best_" + set + "_ppl"
                                                              : set + "_acc_best")));
    if (last.contains("optimizer"))
      row("weights' optimizer", last.value("valid_averaged", false)
                                    ? last["optimizer"].get<std::string>() + " (validated with the average)"
                                    : last["optimizer"].get<std::string>());
    if (last.contains("genotype")) row("genotype", last["genotype"].get<std::string>());
    double seconds = 0;
    for (const json& e : epochs) seconds += std::isfinite(number(e, "seconds")) ? number(e, "seconds") : 0;
    row("time (epochs logged)", fmt::format("{:.0f} s", seconds));
  }
  for (const json& r : records)
    if (r.value("kind", "") == "test" && r.contains("test_ppl"))
      row("test (best checkpoint)", fmt::format("loss {:.4f}, ppl {:.2f}", number(r, "test_loss"),
                                                number(r, "test_ppl")));
  page.key_value_table(summary);

  page.heading(2, "Training curves");
  page.begin_row();
  page.markup(report::line_chart({"Loss (cross-entropy)", {"epoch"}, {"loss"}}, curves("loss", 1.0)));
  if (layout.language_model)
    page.markup(report::line_chart({"Perplexity", {"epoch"}, {"perplexity"}}, curves("ppl", 1.0)));
  else
    page.markup(report::line_chart({"Accuracy", {"epoch"}, {"accuracy (%)"}}, curves("acc", 100.0)));
  {
    Series lr{.name = "weights' learning rate"};
    for (const json& e : epochs) {
      lr.x.push_back(number(e, "epoch") + 1);
      lr.y.push_back(number(e, "lr"));
    }
    page.markup(report::line_chart({"Learning rate", {"epoch"}, {"lr"}}, {lr}));
  }
  page.end_row();

  add_alpha_section(page, epochs, layout);
  add_beta_section(page, epochs, layout);

  // Cells: Graphviz's SVG when it exists, the DOT text otherwise.
  std::vector<std::string> drawn;
  for (const std::string& which : layout.drawings)
    if (fs::exists(run.path(which + ".svg")) || fs::exists(run.path(which + ".dot")))
      drawn.push_back(which);
  if (!drawn.empty()) {
    page.heading(2, "Cells");
    if (fs::exists(run.path("genotype.txt"))) page.preformatted(read_text(run.path("genotype.txt")));
    page.begin_row();
    for (const std::string& which : drawn) {
      page.begin_group();
      const fs::path svg = run.path(which + ".svg");
      if (fs::exists(svg)) {
        page.heading(3, which + " cell");
        page.markup(report::inline_svg(read_text(svg)));
      } else {
        page.heading(3, which + " cell (Graphviz DOT; install graphviz for a drawing)");
        page.preformatted(read_text(run.path(which + ".dot")));
      }
      page.end_group();
    }
    page.end_row();
  }

  page.heading(2, "Resolved config");
  page.preformatted(config.dump(2));
  run.write_file("report.html", page.str());
}

}  // namespace autonet::darts
