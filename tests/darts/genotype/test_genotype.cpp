#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "darts/genotype/genotype.h"
#include "runtime/error.h"

namespace autonet::darts {
namespace {

// Builds a (rows × 8) weight matrix of equal entries, then lets tests raise single entries.
std::vector<std::vector<double>> flat_weights(int rows, int cols = 8) {
  return std::vector<std::vector<double>>(rows, std::vector<double>(cols, 1.0 / cols));
}

TEST(Genotype, PublishedDartsV2TextMatchesTheReferenceRepr) {
  const std::string text = to_text(published_cnn_genotype("DARTS_V2"));
  EXPECT_EQ(text,
            "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
            "reduce_concat=range(2, 6))");
}

TEST(Genotype, TextAndJsonRoundTripThePublishedGenotypes) {
  for (const std::string& name : published_cnn_names()) {
    const CnnGenotype g = published_cnn_genotype(name);
    EXPECT_EQ(parse_cnn_genotype(to_text(g)), g) << name;
    EXPECT_EQ(cnn_genotype_from_json(to_json(g)), g) << name;
    EXPECT_EQ(load_cnn_genotype(name), g) << name;
  }
  for (const std::string& name : published_rnn_names()) {
    const RnnGenotype r = published_rnn_genotype(name);
    EXPECT_EQ(parse_rnn_genotype(to_text(r)), r) << name;
    EXPECT_EQ(rnn_genotype_from_json(to_json(r)), r) << name;
    EXPECT_EQ(load_rnn_genotype(name), r) << name;
  }
  EXPECT_EQ(to_text(published_rnn_genotype("DARTS_V2")),
            "Genotype(recurrent=[('sigmoid', 0), ('relu', 1), ('relu', 1), ('identity', 1), "
            "('tanh', 2), ('sigmoid', 5), ('tanh', 3), ('relu', 5)], concat=range(1, 9))");
}

// Node counts, concat lists and op sets of the official genotypes.py files (quark0/darts).
TEST(Genotype, PublishedNamesHaveTheOfficialShapes) {
  EXPECT_EQ(published_cnn_names(),
            (std::vector<std::string>{"NASNet", "AmoebaNet", "DARTS_V1", "DARTS_V2"}));
  EXPECT_EQ(published_rnn_names(), (std::vector<std::string>{"ENAS", "DARTS_V1", "DARTS_V2"}));
  auto ops_of = [](const std::vector<OpEdge>& edges) {
    std::set<std::string> ops;
    for (const auto& e : edges) ops.insert(e.first);
    return ops;
  };
  using Ops = std::set<std::string>;
  const CnnGenotype nasnet = published_cnn_genotype("NASNet");
  EXPECT_EQ(nasnet.normal_nodes(), 5);
  EXPECT_EQ(nasnet.reduce_nodes(), 5);
  EXPECT_EQ(nasnet.normal_concat, (std::vector<int>{2, 3, 4, 5, 6}));
  EXPECT_EQ(nasnet.reduce_concat, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(ops_of(nasnet.normal), (Ops{"sep_conv_5x5", "sep_conv_3x3", "avg_pool_3x3",
                                        "skip_connect"}));
  EXPECT_EQ(nasnet.reduce[1], OpEdge("sep_conv_7x7", 0));
  EXPECT_EQ(nasnet.reduce[6], OpEdge("skip_connect", 3));

  const CnnGenotype amoeba = published_cnn_genotype("AmoebaNet");
  EXPECT_EQ(amoeba.normal_nodes(), 5);
  EXPECT_EQ(amoeba.normal_concat, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(amoeba.reduce_concat, (std::vector<int>{3, 4, 6}));
  EXPECT_EQ(amoeba.normal[3], OpEdge("sep_conv_5x5", 2));
  EXPECT_EQ(amoeba.reduce[8], OpEdge("conv_7x1_1x7", 0));
  EXPECT_EQ(amoeba.reduce[9], OpEdge("sep_conv_3x3", 5));

  for (const char* name : {"DARTS_V1", "DARTS_V2"}) {
    EXPECT_EQ(published_cnn_genotype(name).normal_nodes(), 4) << name;
    EXPECT_EQ(published_rnn_genotype(name).recurrent.size(), 8u) << name;
  }
  EXPECT_EQ(published_cnn_genotype("DARTS"), published_cnn_genotype("DARTS_V2"));
  EXPECT_EQ(published_rnn_genotype("DARTS"), published_rnn_genotype("DARTS_V2"));

  const RnnGenotype enas = published_rnn_genotype("ENAS");
  EXPECT_EQ(to_text(enas),
            "Genotype(recurrent=[('tanh', 0), ('tanh', 1), ('relu', 1), ('tanh', 3), "
            "('tanh', 3), ('relu', 3), ('relu', 4), ('relu', 7), ('relu', 8), ('relu', 8), "
            "('relu', 8)], concat=[2, 5, 6, 9, 10, 11])");
}

TEST(Genotype, UnknownPublishedNamesListTheKnownOnes) {
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.message());
    }
    return std::string("no error");
  };
  const std::string cnn = message([] { published_cnn_genotype("ENAS"); });
  EXPECT_NE(cnn.find("'ENAS'"), std::string::npos) << cnn;
  EXPECT_NE(cnn.find("NASNet, AmoebaNet, DARTS_V1, DARTS_V2, DARTS"), std::string::npos) << cnn;
  const std::string rnn = message([] { published_rnn_genotype("NASNet"); });
  EXPECT_NE(rnn.find("ENAS, DARTS_V1, DARTS_V2, DARTS"), std::string::npos) << rnn;
}

TEST(Genotype, RecurrentGenotypesAreRecognised) {
  EXPECT_TRUE(is_recurrent_genotype("ENAS"));
  EXPECT_FALSE(is_recurrent_genotype("DARTS_V2"));  // a CNN name first
  EXPECT_FALSE(is_recurrent_genotype("NASNet"));
  EXPECT_TRUE(is_recurrent_genotype(to_text(published_rnn_genotype("DARTS_V1"))));
  EXPECT_TRUE(is_recurrent_genotype(to_json(published_rnn_genotype("ENAS")).dump()));
  EXPECT_FALSE(is_recurrent_genotype(to_text(published_cnn_genotype("AmoebaNet"))));
}

TEST(Genotype, ParsesListConcatsDoubleQuotesAndLargerCells) {
  // A NASNet-style cell: 5 nodes, concat over a list, ops outside the DARTS space.
  const CnnGenotype g = parse_cnn_genotype(
      "Genotype( normal=[(\"sep_conv_5x5\", 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 0), "
      "('sep_conv_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 0), ('avg_pool_3x3', 0), "
      "('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 1)], normal_concat=[2, 3, 4, 5, 6],"
      " reduce=[('sep_conv_5x5', 1), ('sep_conv_7x7', 0), ('max_pool_3x3', 1), ('sep_conv_7x7', 0), "
      "('avg_pool_3x3', 1), ('sep_conv_5x5', 0), ('skip_connect', 3), ('avg_pool_3x3', 2), "
      "('sep_conv_3x3', 2), ('max_pool_3x3', 1)], reduce_concat=[4, 5, 6])");
  EXPECT_EQ(g.normal_nodes(), 5);
  EXPECT_EQ(g.reduce_concat, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(parse_cnn_genotype(to_text(g)), g);
}

TEST(Genotype, BadTextIsAnErrorWithItsPosition) {
  auto message = [](const std::string& text) {
    try {
      parse_cnn_genotype(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("Genotype(normal=[('sep_conv_3x3' 0)])").find("character 33"), std::string::npos)
      << message("Genotype(normal=[('sep_conv_3x3' 0)])");
  EXPECT_NE(message("Genotyp(normal=[])").find("'Genotype'"), std::string::npos);
  const std::string v2 = to_text(published_cnn_genotype("DARTS_V2"));
  std::string unknown = v2;
  unknown.replace(unknown.find("dil_conv_3x3"), 12, "dil_conv_9x9");
  EXPECT_NE(message(unknown).find("unknown op 'dil_conv_9x9'"), std::string::npos);
  std::string forward_ref = v2;
  forward_ref.replace(forward_ref.find("('sep_conv_3x3', 1)"), 19, "('sep_conv_3x3', 4)");
  EXPECT_NE(message(forward_ref).find("not before it"), std::string::npos);
  EXPECT_NE(message(v2.substr(0, v2.size() - 1)).find("')'"), std::string::npos);
  EXPECT_NE(message("Genotype(normal=[], normal_concat=range(2, 6))").find("missing field"),
            std::string::npos);
  EXPECT_THROW(cnn_genotype_from_json(nlohmann::json{{"normal", 3}}), Error);
  EXPECT_THROW(published_cnn_genotype("DARTS_V3"), Error);
}

TEST(Genotype, NumbersOutOfRangeAreErrorsNotWrapsOrHugeCells) {
  const auto message = [](const std::function<void()>& load) {
    try {
      load();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string v2 = to_text(published_cnn_genotype("DARTS_V2"));
  std::string huge = v2;
  huge.replace(huge.find("('sep_conv_3x3', 1)"), 19, "('sep_conv_3x3', 99999999999)");
  EXPECT_NE(message([&] { parse_cnn_genotype(huge); })
                .find("expected an integer between -2147483648 and 2147483647 at character"),
            std::string::npos)
      << message([&] { parse_cnn_genotype(huge); });
  std::string wide = v2;
  wide.replace(wide.find("range(2, 6)"), 11, "range(2, 2000000000)");
  EXPECT_NE(message([&] { parse_cnn_genotype(wide); }).find("range(a, b) of at most 1000 nodes"),
            std::string::npos);

  // JSON integers of 2^32 and more used to wrap (2^32 + 1 → input 1: another, valid cell).
  nlohmann::json j = to_json(published_cnn_genotype("DARTS_V2"));
  j["normal"][1]["input"] = 4294967297ull;
  EXPECT_NE(message([&] { cnn_genotype_from_json(j); })
                .find("'normal' holds 4294967297, not an integer between"),
            std::string::npos);
  j = to_json(published_rnn_genotype("DARTS_V2"));
  j["concat"][0] = -4294967295ll;
  EXPECT_NE(message([&] { rnn_genotype_from_json(j); }).find("'concat' holds -4294967295"),
            std::string::npos);
}

// Errors of a genotype file name it; empty files and folders are named as such.
TEST(Genotype, FileErrorsNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / "autonet_genotype_files_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "empty.txt") << "";
  std::ofstream(dir / "blank.txt") << "  \n";
  std::ofstream(dir / "cut.txt") << "Genotype(normal=[";
  std::ofstream(dir / "wrapped.json") << R"({"recurrent": [{"op": "relu", "input": 4294967296}],
                                            "concat": [1]})";
  const auto message = [](const std::string& source) {
    try {
      load_rnn_genotype(source);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string file = "genotype file '" + (dir / "empty.txt").string() + "' is empty";
  EXPECT_NE(message((dir / "empty.txt").string()).find(file), std::string::npos);
  EXPECT_NE(message((dir / "blank.txt").string()).find("is empty"), std::string::npos);
  EXPECT_NE(message(dir.string()).find("is a folder, not a file"), std::string::npos);
  EXPECT_NE(message((dir / "cut.txt").string()).find("genotype file '" + (dir / "cut.txt").string()),
            std::string::npos);
  const std::string json = message((dir / "wrapped.json").string());
  EXPECT_NE(json.find("genotype file '" + (dir / "wrapped.json").string()), std::string::npos);
  EXPECT_NE(json.find("'recurrent' holds 4294967296"), std::string::npos) << json;
  EXPECT_THROW(load_cnn_genotype((dir / "empty.txt").string()), Error);
  std::filesystem::remove_all(dir);
}

TEST(Genotype, LoadsByNameFileOrText) {
  const auto dir = std::filesystem::temp_directory_path() / "autonet_genotype_test";
  std::filesystem::create_directories(dir);
  const CnnGenotype v1 = published_cnn_genotype("DARTS_V1");
  std::ofstream(dir / "g.txt") << to_text(v1) << "\n";
  std::ofstream(dir / "g.json") << to_json(v1).dump(2);
  EXPECT_EQ(load_cnn_genotype((dir / "g.txt").string()), v1);
  EXPECT_EQ(load_cnn_genotype((dir / "g.json").string()), v1);
  EXPECT_EQ(load_cnn_genotype("DARTS"), published_cnn_genotype("DARTS_V2"));
  EXPECT_THROW(load_cnn_genotype((dir / "missing.txt").string()), Error);
  std::filesystem::remove_all(dir);
}

TEST(Genotype, EqualWeightsDeriveMaxPoolFromTheFirstTwoInputs) {
  // Reference §4.1 sanity check: all α equal → every node takes max_pool_3x3 from inputs 0 and 1.
  const CnnGenotype g = derive_cnn_genotype(flat_weights(14), flat_weights(14));
  for (int node = 0; node < 4; ++node) {
    EXPECT_EQ(g.normal[2 * node], OpEdge("max_pool_3x3", 0));
    EXPECT_EQ(g.normal[2 * node + 1], OpEdge("max_pool_3x3", 1));
  }
  EXPECT_EQ(g.normal_concat, (std::vector<int>{2, 3, 4, 5}));
}

TEST(Genotype, DerivationIgnoresNoneAndOrdersByStrength) {
  auto w = flat_weights(14);
  // Node 3 (rows 2, 3, 4 = inputs 0, 1, 2): input 2 strongest via dil_conv_5x5, input 0 second via
  // sep_conv_5x5; input 1's large `none` weight must not count.
  w[2][5] = 0.5;
  w[3][0] = 0.9;
  w[4][7] = 0.6;
  // Node 5 (rows 9..13): a tie between inputs 1 and 3 at skip_connect → lower input first.
  w[10][3] = 0.4;
  w[12][3] = 0.4;
  const CnnGenotype g = derive_cnn_genotype(w, flat_weights(14));
  EXPECT_EQ(g.normal[2], OpEdge("dil_conv_5x5", 2));
  EXPECT_EQ(g.normal[3], OpEdge("sep_conv_5x5", 0));
  EXPECT_EQ(g.normal[6], OpEdge("skip_connect", 1));
  EXPECT_EQ(g.normal[7], OpEdge("skip_connect", 3));
  EXPECT_THROW(derive_cnn_genotype(flat_weights(13), flat_weights(14)), Error);
}

TEST(Genotype, RnnDerivationPicksOnePredecessorPerNode) {
  auto w = flat_weights(36, 5);
  w[0][3] = 0.9;   // node 1 from state 0: sigmoid
  w[2][2] = 0.9;   // node 2 (rows 1, 2) from state 1: relu
  w[35][4] = 0.9;  // node 8 (rows 28..35) from state 7: identity
  const RnnGenotype g = derive_rnn_genotype(w);
  EXPECT_EQ(g.recurrent[0], OpEdge("sigmoid", 0));
  EXPECT_EQ(g.recurrent[1], OpEdge("relu", 1));
  EXPECT_EQ(g.recurrent[7], OpEdge("identity", 7));
  EXPECT_EQ(g.recurrent[3], OpEdge("tanh", 0));  // all equal: first input, first non-none op
}

TEST(Genotype, DrawsCellsAsDot) {
  const std::string dot = to_dot(published_cnn_genotype("DARTS_V2"), "normal");
  EXPECT_NE(dot.find("digraph normal"), std::string::npos);
  EXPECT_NE(dot.find("c_k2 -> 3 [label=\"skip_connect\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("0 -> 3 [label=\"dil_conv_3x3\"]"), std::string::npos);
  EXPECT_NE(to_dot(published_rnn_genotype("DARTS_V2")).find("5 -> 8 [label=\"relu\"]"),
            std::string::npos);
  EXPECT_THROW(to_dot(published_cnn_genotype("DARTS_V2"), "middle"), Error);
  const auto stem = (std::filesystem::temp_directory_path() / "autonet_cell").string();
  const bool svg = write_drawing(dot, stem);
  EXPECT_TRUE(std::filesystem::exists(stem + ".dot"));
  if (svg) {
    EXPECT_GT(std::filesystem::file_size(stem + ".svg"), 100u);
  }
}

}  // namespace
}  // namespace autonet::darts
