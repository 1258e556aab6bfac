#include "darts/genotype/genotype.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/atomic_file.h"
#include "report/graphviz.h"
#include "runtime/error.h"

namespace autonet::darts {

const std::vector<std::string>& cnn_primitives() {
  static const std::vector<std::string> names = {"none",         "max_pool_3x3", "avg_pool_3x3",
                                                 "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                                                 "dil_conv_3x3", "dil_conv_5x5"};
  return names;
}

bool is_known_cnn_op(const std::string& name) {
  const auto& p = cnn_primitives();
  return std::find(p.begin(), p.end(), name) != p.end() || name == "sep_conv_7x7" ||
         name == "conv_7x1_1x7";
}

const std::vector<std::string>& rnn_primitives() {
  static const std::vector<std::string> names = {"none", "tanh", "relu", "sigmoid", "identity"};
  return names;
}

// ---------------------------------------------------------------------------------------------
// Text form

namespace {

std::string list_text(const std::vector<OpEdge>& edges) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < edges.size(); ++i)
    out << (i ? ", " : "") << "('" << edges[i].first << "', " << edges[i].second << ")";
  out << "]";
  return out.str();
}

// Consecutive lists print as range(a, b), as the search script prints them.
std::string concat_text(const std::vector<int>& concat) {
  bool consecutive = !concat.empty();
  for (size_t i = 1; i < concat.size(); ++i) consecutive &= concat[i] == concat[i - 1] + 1;
  std::ostringstream out;
  if (consecutive) {
    out << "range(" << concat.front() << ", " << concat.back() + 1 << ")";
  } else {
    out << "[";
    for (size_t i = 0; i < concat.size(); ++i) out << (i ? ", " : "") << concat[i];
    out << "]";
  }
  return out.str();
}

// No DARTS cell comes near this many nodes; a larger range() is a typo, not a cell to allocate.
constexpr int kMaxRangeNodes = 1000;

// Recursive-descent reader of the Python repr of a Genotype namedtuple.
class GenotypeReader {
 public:
  explicit GenotypeReader(const std::string& text) : text_(text) {}

  // Genotype(key=value, ...) → the values by key.
  struct Fields {
    std::map<std::string, std::vector<OpEdge>> lists;
    std::map<std::string, std::vector<int>> concats;
  };

  Fields read() {
    Fields fields;
    expect_word("Genotype");
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      const std::string key = word();
      expect('=');
      skip_space();
      if (key.size() >= 6 && key.compare(key.size() - 6, 6, "concat") == 0) {
        fields.concats[key] = concat();
      } else {
        fields.lists[key] = edges();
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      break;
    }
    expect(')');
    skip_space();
    if (pos_ != text_.size()) fail("end of text");
    return fields;
  }

 private:
  [[noreturn]] void fail(const std::string& expected) {
    const size_t from = pos_ > 20 ? pos_ - 20 : 0;
    AN_THROW() << "genotype text: expected " << expected << " at character " << pos_ << " near '"
               << text_.substr(from, 40) << "'";
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("'") + c + "'");
    ++pos_;
  }
  std::string word() {
    skip_space();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_'))
      ++pos_;
    if (start == pos_) fail("a name");
    return text_.substr(start, pos_ - start);
  }
  void expect_word(const std::string& w) {
    const size_t at = pos_;
    if (word() != w) {
      pos_ = at;
      fail("'" + w + "'");
    }
  }
  int integer() {
    skip_space();
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    if (start == pos_ || (pos_ == start + 1 && text_[start] == '-')) fail("an integer");
    int value = 0;
    if (std::from_chars(text_.data() + start, text_.data() + pos_, value).ec != std::errc()) {
      pos_ = start;
      fail("an integer between " + std::to_string(INT_MIN) + " and " + std::to_string(INT_MAX));
    }
    return value;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("a quoted op name");
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) ++pos_;
    if (pos_ >= text_.size()) fail("a closing quote");
    return text_.substr(start, pos_++ - start);
  }
  std::vector<OpEdge> edges() {
    std::vector<OpEdge> out;
    expect('[');
    skip_space();
    while (peek() == '(') {
      ++pos_;
      const size_t at = pos_;
      std::string op = quoted();
      expect(',');
      const int input = integer();
      expect(')');
      if (op.empty()) {
        pos_ = at;
        fail("a non-empty op name");
      }
      out.emplace_back(std::move(op), input);
      skip_space();
      if (peek() == ',') ++pos_, skip_space();
    }
    expect(']');
    return out;
  }
  std::vector<int> concat() {
    skip_space();
    std::vector<int> out;
    if (peek() == '[') {
      ++pos_;
      skip_space();
      while (peek() != ']') {
        out.push_back(integer());
        skip_space();
        if (peek() == ',') ++pos_, skip_space();
        else if (peek() != ']') fail("',' or ']'");
      }
      ++pos_;
      return out;
    }
    expect_word("range");
    expect('(');
    const int begin = integer();
    expect(',');
    const int end = integer();
    expect(')');
    if (end <= begin) fail("range(a, b) with a < b");
    if (static_cast<int64_t>(end) - begin > kMaxRangeNodes)
      fail("range(a, b) of at most " + std::to_string(kMaxRangeNodes) + " nodes");
    for (int i = begin; i < end; ++i) out.push_back(i);
    return out;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

template <class Map>
auto take(const Map& m, const std::string& key) {
  auto it = m.find(key);
  AN_CHECK(it != m.end()) << "genotype text: missing field '" << key << "'";
  return it->second;
}

}  // namespace

std::string to_text(const CnnGenotype& g) {
  return "Genotype(normal=" + list_text(g.normal) + ", normal_concat=" +
         concat_text(g.normal_concat) + ", reduce=" + list_text(g.reduce) +
         ", reduce_concat=" + concat_text(g.reduce_concat) + ")";
}

std::string to_text(const RnnGenotype& g) {
  return "Genotype(recurrent=" + list_text(g.recurrent) + ", concat=" + concat_text(g.concat) + ")";
}

CnnGenotype parse_cnn_genotype(const std::string& text) {
  const auto fields = GenotypeReader(text).read();
  CnnGenotype g;
  g.normal = take(fields.lists, "normal");
  g.reduce = take(fields.lists, "reduce");
  g.normal_concat = take(fields.concats, "normal_concat");
  g.reduce_concat = take(fields.concats, "reduce_concat");
  validate(g);
  return g;
}

RnnGenotype parse_rnn_genotype(const std::string& text) {
  const auto fields = GenotypeReader(text).read();
  RnnGenotype g;
  g.recurrent = take(fields.lists, "recurrent");
  g.concat = take(fields.concats, "concat");
  validate(g);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Validation

namespace {
void validate_cell(const std::vector<OpEdge>& edges, const std::vector<int>& concat,
                   const char* which) {
  AN_CHECK(!edges.empty() && edges.size() % 2 == 0)
      << "genotype " << which << " cell: needs two (op, input) pairs per node, got "
      << edges.size() << " pairs";
  const int nodes = static_cast<int>(edges.size()) / 2;
  for (size_t e = 0; e < edges.size(); ++e) {
    const auto& [op, input] = edges[e];
    AN_CHECK(is_known_cnn_op(op)) << "genotype " << which << " cell: unknown op '" << op
                                  << "' in pair " << e;
    const int node = 2 + static_cast<int>(e) / 2;
    AN_CHECK(input >= 0 && input < node) << "genotype " << which << " cell: pair " << e << " ('"
                                         << op << "', " << input << ") feeds node " << node
                                         << " from a node that is not before it";
  }
  AN_CHECK(!concat.empty()) << "genotype " << which << " cell: empty concat list";
  for (int c : concat)
    AN_CHECK(c >= 0 && c < 2 + nodes) << "genotype " << which << " cell: concat node " << c
                                      << " does not exist (nodes 0.." << 1 + nodes << ")";
}
}  // namespace

void validate(const CnnGenotype& g) {
  validate_cell(g.normal, g.normal_concat, "normal");
  validate_cell(g.reduce, g.reduce_concat, "reduce");
}

void validate(const RnnGenotype& g) {
  AN_CHECK(!g.recurrent.empty()) << "RNN genotype: no nodes";
  const auto& prims = rnn_primitives();
  for (size_t i = 0; i < g.recurrent.size(); ++i) {
    const auto& [op, pred] = g.recurrent[i];
    AN_CHECK(op != "none" && std::find(prims.begin(), prims.end(), op) != prims.end())
        << "RNN genotype: unknown activation '" << op << "' at node " << i + 1;
    AN_CHECK(pred >= 0 && pred <= static_cast<int>(i))
        << "RNN genotype: node " << i + 1 << " reads state " << pred << ", not before it";
  }
  for (int c : g.concat)
    AN_CHECK(c >= 0 && c <= static_cast<int>(g.recurrent.size()))
        << "RNN genotype: concat state " << c << " does not exist";
}

// ---------------------------------------------------------------------------------------------
// JSON

namespace {
// A JSON integer that fits an int (nlohmann's get<int> would wrap 2^32 + 1 to 1).
int json_int(const nlohmann::json& v, const char* key) {
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(INT_MAX)
                                           : v.is_number_integer() && v.get<int64_t>() >= INT_MIN &&
                                                 v.get<int64_t>() <= INT_MAX;
  AN_CHECK(fits) << "genotype JSON: '" << key << "' holds " << v.dump()
                 << ", not an integer between " << INT_MIN << " and " << INT_MAX;
  return v.get<int>();
}
nlohmann::json edges_json(const std::vector<OpEdge>& edges) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [op, input] : edges) j.push_back({{"op", op}, {"input", input}});
  return j;
}
std::vector<OpEdge> edges_from_json(const nlohmann::json& j, const char* key) {
  AN_CHECK(j.contains(key) && j[key].is_array()) << "genotype JSON: missing array '" << key << "'";
  std::vector<OpEdge> edges;
  for (const auto& e : j[key]) {
    AN_CHECK(e.is_object() && e.contains("op") && e["op"].is_string() && e.contains("input") &&
             e["input"].is_number_integer())
        << "genotype JSON: entries of '" << key << "' need {\"op\": string, \"input\": integer}";
    edges.emplace_back(e["op"].get<std::string>(), json_int(e["input"], key));
  }
  return edges;
}
std::vector<int> ints_from_json(const nlohmann::json& j, const char* key) {
  AN_CHECK(j.contains(key) && j[key].is_array()) << "genotype JSON: missing array '" << key << "'";
  std::vector<int> out;
  for (const auto& v : j[key]) {
    AN_CHECK(v.is_number_integer()) << "genotype JSON: '" << key << "' must hold integers";
    out.push_back(json_int(v, key));
  }
  return out;
}
}  // namespace

nlohmann::json to_json(const CnnGenotype& g) {
  return {{"normal", edges_json(g.normal)},
          {"normal_concat", g.normal_concat},
          {"reduce", edges_json(g.reduce)},
          {"reduce_concat", g.reduce_concat}};
}

nlohmann::json to_json(const RnnGenotype& g) {
  return {{"recurrent", edges_json(g.recurrent)}, {"concat", g.concat}};
}

CnnGenotype cnn_genotype_from_json(const nlohmann::json& j) {
  AN_CHECK(j.is_object()) << "genotype JSON: expected an object";
  CnnGenotype g{edges_from_json(j, "normal"), edges_from_json(j, "reduce"),
                ints_from_json(j, "normal_concat"), ints_from_json(j, "reduce_concat")};
  validate(g);
  return g;
}

RnnGenotype rnn_genotype_from_json(const nlohmann::json& j) {
  AN_CHECK(j.is_object()) << "genotype JSON: expected an object";
  RnnGenotype g{edges_from_json(j, "recurrent"), ints_from_json(j, "concat")};
  validate(g);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Published genotypes (reference §4.3, §4.4)

namespace {
// The genotypes of the official cnn/genotypes.py and rnn/genotypes.py (quark0/darts f276dd3),
// written out in the text form; docs/darts.md says where each comes from. "DARTS" is DARTS_V2.
struct PublishedGenotype {
  const char* name;
  const char* text;
};

const std::vector<PublishedGenotype>& published_cnn_table() {
  static const std::vector<PublishedGenotype> table = {
      {"NASNet",
       "Genotype(normal=[('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 0), "
       "('sep_conv_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 0), ('avg_pool_3x3', 0), "
       "('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 1)], "
       "normal_concat=[2, 3, 4, 5, 6], "
       "reduce=[('sep_conv_5x5', 1), ('sep_conv_7x7', 0), ('max_pool_3x3', 1), "
       "('sep_conv_7x7', 0), ('avg_pool_3x3', 1), ('sep_conv_5x5', 0), ('skip_connect', 3), "
       "('avg_pool_3x3', 2), ('sep_conv_3x3', 2), ('max_pool_3x3', 1)], "
       "reduce_concat=[4, 5, 6])"},
      {"AmoebaNet",
       "Genotype(normal=[('avg_pool_3x3', 0), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), "
       "('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('avg_pool_3x3', 3), ('sep_conv_3x3', 1), "
       "('skip_connect', 1), ('skip_connect', 0), ('avg_pool_3x3', 1)], "
       "normal_concat=[4, 5, 6], "
       "reduce=[('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('max_pool_3x3', 0), "
       "('sep_conv_7x7', 2), ('sep_conv_7x7', 0), ('avg_pool_3x3', 1), ('max_pool_3x3', 0), "
       "('max_pool_3x3', 1), ('conv_7x1_1x7', 0), ('sep_conv_3x3', 5)], "
       "reduce_concat=[3, 4, 6])"},
      {"DARTS_V1",
       "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
       "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
       "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], "
       "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
       "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
       "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"},
      {"DARTS_V2",
       "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
       "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
       "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
       "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
       "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
       "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"},
  };
  return table;
}

const std::vector<PublishedGenotype>& published_rnn_table() {
  static const std::vector<PublishedGenotype> table = {
      {"ENAS",
       "Genotype(recurrent=[('tanh', 0), ('tanh', 1), ('relu', 1), ('tanh', 3), ('tanh', 3), "
       "('relu', 3), ('relu', 4), ('relu', 7), ('relu', 8), ('relu', 8), ('relu', 8)], "
       "concat=[2, 5, 6, 9, 10, 11])"},
      {"DARTS_V1",
       "Genotype(recurrent=[('relu', 0), ('relu', 1), ('tanh', 2), ('relu', 3), ('relu', 4), "
       "('identity', 1), ('relu', 5), ('relu', 1)], concat=range(1, 9))"},
      {"DARTS_V2",
       "Genotype(recurrent=[('sigmoid', 0), ('relu', 1), ('relu', 1), ('identity', 1), "
       "('tanh', 2), ('sigmoid', 5), ('tanh', 3), ('relu', 5)], concat=range(1, 9))"},
  };
  return table;
}

// The table's text of `name` ("DARTS" reads as DARTS_V2), or null.
const char* published_text(const std::vector<PublishedGenotype>& table, const std::string& name) {
  const std::string key = name == "DARTS" ? "DARTS_V2" : name;
  for (const PublishedGenotype& g : table)
    if (key == g.name) return g.text;
  return nullptr;
}

std::string published_list(const std::vector<PublishedGenotype>& table) {
  std::string list;
  for (const PublishedGenotype& g : table) list += std::string(g.name) + ", ";
  return list + "DARTS";
}
}  // namespace

std::vector<std::string> published_cnn_names() {
  std::vector<std::string> names;
  for (const PublishedGenotype& g : published_cnn_table()) names.emplace_back(g.name);
  return names;
}

std::vector<std::string> published_rnn_names() {
  std::vector<std::string> names;
  for (const PublishedGenotype& g : published_rnn_table()) names.emplace_back(g.name);
  return names;
}

CnnGenotype published_cnn_genotype(const std::string& name) {
  const char* text = published_text(published_cnn_table(), name);
  AN_CHECK(text) << "unknown published CNN genotype '" << name
                 << "' (known: " << published_list(published_cnn_table()) << ")";
  return parse_cnn_genotype(text);
}

RnnGenotype published_rnn_genotype(const std::string& name) {
  const char* text = published_text(published_rnn_table(), name);
  AN_CHECK(text) << "unknown published RNN genotype '" << name
                 << "' (known: " << published_list(published_rnn_table()) << ")";
  return parse_rnn_genotype(text);
}

namespace {
// A genotype argument is a published name (handled by the caller), genotype text or JSON, or a
// file holding either.
struct GenotypeSource {
  std::string text;
  std::string file;  // "genotype file 'path'" when read from one, else empty
};
GenotypeSource genotype_source_text(const std::string& source) {
  if (source.find('(') != std::string::npos || source.find('{') != std::string::npos)
    return {source, ""};
  const std::string name = "genotype file '" + source + "'";
  AN_CHECK(!std::filesystem::is_directory(source)) << name << " is a folder, not a file";
  std::ifstream in(source);
  AN_CHECK(in.good()) << "genotype '" << source
                      << "' is neither a published name (" << published_list(published_cnn_table())
                      << "; recurrent: " << published_list(published_rnn_table())
                      << "), genotype text, "
                         "nor a readable file";
  std::ostringstream buffer;
  buffer << in.rdbuf();
  AN_CHECK(!in.bad()) << name << " cannot be read";
  const std::string text = buffer.str();
  AN_CHECK(text.find_first_not_of(" \t\r\n") != std::string::npos)
      << name << " is empty (it should hold a Genotype(...) text or its JSON)";
  return {text, name};
}

bool is_json_text(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{';
}

nlohmann::json parse_genotype_json(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    AN_THROW() << "genotype JSON: not valid JSON: " << e.what();
  }
}

// The genotype of a source's text or JSON; errors of a file name the file.
template <class Genotype>
Genotype parse_source(const GenotypeSource& source, Genotype (*from_text)(const std::string&),
                      Genotype (*from_json)(const nlohmann::json&)) {
  try {
    return is_json_text(source.text) ? from_json(parse_genotype_json(source.text))
                                     : from_text(source.text);
  } catch (const Error& e) {
    if (source.file.empty()) throw;
    throw Error(source.file + ": " + e.what());
  }
}

}  // namespace

CnnGenotype load_cnn_genotype(const std::string& source) {
  if (published_text(published_cnn_table(), source)) return published_cnn_genotype(source);
  return parse_source(genotype_source_text(source), parse_cnn_genotype, cnn_genotype_from_json);
}

RnnGenotype load_rnn_genotype(const std::string& source) {
  if (published_text(published_rnn_table(), source)) return published_rnn_genotype(source);
  return parse_source(genotype_source_text(source), parse_rnn_genotype, rnn_genotype_from_json);
}

bool is_recurrent_genotype(const std::string& source) {
  if (published_text(published_cnn_table(), source)) return false;
  if (published_text(published_rnn_table(), source)) return true;
  return genotype_source_text(source).text.find("recurrent") != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Derivation (reference §4.1)

std::vector<OpEdge> derive_cell(const std::vector<std::vector<double>>& weights, int nodes, int k,
                                const std::vector<std::string>& primitives) {
  const size_t expected_rows = static_cast<size_t>(k == 1 ? nodes * (nodes + 1) / 2
                                                           : nodes * (nodes + 3) / 2);
  AN_CHECK(weights.size() == expected_rows)
      << "derive: " << nodes << " nodes need " << expected_rows << " weight rows, got "
      << weights.size();
  const int none = static_cast<int>(std::find(primitives.begin(), primitives.end(), "none") -
                                    primitives.begin());
  std::vector<OpEdge> result;
  size_t start = 0;
  for (int node = 0; node < nodes; ++node) {
    // CNN nodes read inputs 0..node+1 (two cell inputs first); RNN nodes read states 0..node.
    const int inputs = k == 1 ? node + 1 : node + 2;
    struct Edge {
      int input;
      double strength;
      int op;
    };
    std::vector<Edge> edges;
    for (int j = 0; j < inputs; ++j) {
      const std::vector<double>& row = weights[start + j];
      AN_CHECK(row.size() == primitives.size())
          << "derive: row " << start + j << " has " << row.size() << " weights, expected "
          << primitives.size();
      int best = -1;
      for (int c = 0; c < static_cast<int>(row.size()); ++c)
        if (c != none && (best < 0 || row[c] > row[best])) best = c;
      edges.push_back({j, row[best], best});
    }
    std::stable_sort(edges.begin(), edges.end(),
                     [](const Edge& a, const Edge& b) { return a.strength > b.strength; });
    for (int e = 0; e < k && e < static_cast<int>(edges.size()); ++e)
      result.emplace_back(primitives[edges[e].op], edges[e].input);
    start += inputs;
  }
  return result;
}

CnnGenotype derive_cnn_genotype(const std::vector<std::vector<double>>& normal_weights,
                                const std::vector<std::vector<double>>& reduce_weights, int nodes,
                                int multiplier) {
  CnnGenotype g;
  g.normal = derive_cell(normal_weights, nodes, 2, cnn_primitives());
  g.reduce = derive_cell(reduce_weights, nodes, 2, cnn_primitives());
  for (int c = 2 + nodes - multiplier; c < 2 + nodes; ++c) {
    g.normal_concat.push_back(c);
    g.reduce_concat.push_back(c);
  }
  return g;
}

RnnGenotype derive_rnn_genotype(const std::vector<std::vector<double>>& weights, int nodes) {
  RnnGenotype g;
  g.recurrent = derive_cell(weights, nodes, 1, rnn_primitives());
  for (int c = 1; c <= nodes; ++c) g.concat.push_back(c);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Drawing

std::string to_dot(const CnnGenotype& g, const std::string& which) {
  AN_CHECK(which == "normal" || which == "reduce") << "to_dot: cell must be normal or reduce";
  const auto& edges = which == "normal" ? g.normal : g.reduce;
  const auto& concat = which == "normal" ? g.normal_concat : g.reduce_concat;
  std::ostringstream dot;
  dot << "digraph " << which << " {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\"];\n";
  dot << "  c_k2 [label=\"c_{k-2}\", fillcolor=darkseagreen2];\n";
  dot << "  c_k1 [label=\"c_{k-1}\", fillcolor=darkseagreen2];\n";
  const int nodes = static_cast<int>(edges.size()) / 2;
  auto name = [](int i) { return i == 0 ? std::string("c_k2") : i == 1 ? "c_k1" : std::to_string(i - 2); };
  for (int i = 0; i < nodes; ++i) dot << "  " << i << " [fillcolor=lightblue];\n";
  for (size_t e = 0; e < edges.size(); ++e)
    dot << "  " << name(edges[e].second) << " -> " << e / 2 << " [label=\"" << edges[e].first
        << "\"];\n";
  dot << "  c_k [label=\"c_{k}\", fillcolor=palegoldenrod];\n";
  for (int c : concat) dot << "  " << name(c) << " -> c_k [color=gray];\n";
  dot << "}\n";
  return dot.str();
}

std::string to_dot(const RnnGenotype& g) {
  std::ostringstream dot;
  dot << "digraph recurrent {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\"];\n";
  dot << "  x_t [fillcolor=darkseagreen2];\n  h_prev [label=\"h_{t-1}\", fillcolor=darkseagreen2];\n";
  dot << "  0 [fillcolor=lightblue];\n  x_t -> 0;\n  h_prev -> 0;\n";
  for (size_t i = 0; i < g.recurrent.size(); ++i)
    dot << "  " << i + 1 << " [fillcolor=lightblue];\n  " << g.recurrent[i].second << " -> "
        << i + 1 << " [label=\"" << g.recurrent[i].first << "\"];\n";
  dot << "  h_t [label=\"h_{t}\", fillcolor=palegoldenrod];\n";
  for (int c : g.concat) dot << "  " << c << " -> h_t [color=gray];\n";
  dot << "}\n";
  return dot.str();
}

bool write_drawing(const std::string& dot_source, const std::string& path_stem) {
  const std::string dot_path = path_stem + ".dot";
  report::write_file_atomically(dot_path, dot_source);
  const std::optional<std::string> svg = report::graphviz_svg(dot_path);
  if (svg) report::write_file_atomically(path_stem + ".svg", *svg);
  return svg.has_value();
}

}  // namespace autonet::darts
