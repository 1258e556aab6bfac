// Genotypes: the discrete architectures DARTS derives from α (reference darts.md §4).
//
// A CNN genotype lists, for each intermediate node, two (op, input) pairs — input 0/1 are the
// cell's two inputs, 2.. the intermediate nodes — plus which nodes are concatenated into the
// output. Cells of any size load (NASNet/AmoebaNet-style genotypes have 5 nodes and other concat
// lists). An RNN genotype lists one (activation, predecessor) pair per node.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace autonet::darts {

using OpEdge = std::pair<std::string, int>;  // (op name, input index)

// Column order of the CNN α matrices.
const std::vector<std::string>& cnn_primitives();
// Every op a CNN genotype may name (the primitives plus the baselines' sep_conv_7x7 and conv_7x1_1x7).
bool is_known_cnn_op(const std::string& name);
// Column order of the RNN α matrix.
const std::vector<std::string>& rnn_primitives();

struct CnnGenotype {
  std::vector<OpEdge> normal, reduce;  // two entries per node, strongest first
  std::vector<int> normal_concat, reduce_concat;

  int normal_nodes() const { return static_cast<int>(normal.size()) / 2; }
  int reduce_nodes() const { return static_cast<int>(reduce.size()) / 2; }
  bool operator==(const CnnGenotype&) const = default;
};

struct RnnGenotype {
  std::vector<OpEdge> recurrent;  // one entry per node
  std::vector<int> concat;
  bool operator==(const RnnGenotype&) const = default;
};

// The official text form, parseable by the reference Python code:
// Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))
std::string to_text(const CnnGenotype& g);
std::string to_text(const RnnGenotype& g);
// Parses the text form (concat as range(a, b) or a list; quotes ' or "). Errors name the
// character position and what was expected; ops and indices are validated.
CnnGenotype parse_cnn_genotype(const std::string& text);
RnnGenotype parse_rnn_genotype(const std::string& text);

nlohmann::json to_json(const CnnGenotype& g);
nlohmann::json to_json(const RnnGenotype& g);
CnnGenotype cnn_genotype_from_json(const nlohmann::json& j);
RnnGenotype rnn_genotype_from_json(const nlohmann::json& j);

// Checks indices (each input < node index), ops and concat lists; throws naming the problem.
void validate(const CnnGenotype& g);
void validate(const RnnGenotype& g);

// Published genotypes by name, those of the official genotypes.py files (docs/darts.md):
// CNN NASNet, AmoebaNet, DARTS_V1, DARTS_V2; RNN ENAS (11 nodes), DARTS_V1, DARTS_V2 (8 nodes).
// "DARTS" is DARTS_V2 in both.
CnnGenotype published_cnn_genotype(const std::string& name);
RnnGenotype published_rnn_genotype(const std::string& name);
std::vector<std::string> published_cnn_names();  // without the "DARTS" alias
std::vector<std::string> published_rnn_names();
// True for a published name only the RNN table holds (ENAS) and for text, JSON or a file whose
// text has a "recurrent" field; false for the CNN names (DARTS_V2 is drawn as a CNN by default).
bool is_recurrent_genotype(const std::string& source);
// A name from the list above, a file holding text or JSON, or the text itself.
CnnGenotype load_cnn_genotype(const std::string& name_file_or_text);
RnnGenotype load_rnn_genotype(const std::string& name_file_or_text);

// Derivation by the official rule (reference §4.1): weights are the row-softmaxed α, rows in edge
// order, columns in primitive order. Per node keep the `k` incoming edges with the largest
// max-over-non-none weight (stable: lower input first on ties), op = argmax non-none (lowest on ties).
std::vector<OpEdge> derive_cell(const std::vector<std::vector<double>>& weights, int nodes, int k,
                                const std::vector<std::string>& primitives);
CnnGenotype derive_cnn_genotype(const std::vector<std::vector<double>>& normal_weights,
                                const std::vector<std::vector<double>>& reduce_weights,
                                int nodes = 4, int multiplier = 4);
RnnGenotype derive_rnn_genotype(const std::vector<std::vector<double>>& weights, int nodes = 8);

// Graphviz DOT of one cell (`which` = "normal" or "reduce"); RNN cells likewise.
std::string to_dot(const CnnGenotype& g, const std::string& which);
std::string to_dot(const RnnGenotype& g);
// Writes <stem>.dot and, when the `dot` program exists, <stem>.svg; returns true if SVG was made.
bool write_drawing(const std::string& dot_source, const std::string& path_stem);

}  // namespace autonet::darts
