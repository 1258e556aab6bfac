// `autonet genotype show` built in-process: CNN and recurrent genotypes, published or given as text,
// written as text, JSON and drawings.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "darts/genotype/genotype.h"

namespace autonet::apps {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `autonet genotype show ARGS --out <fresh folder>` and returns the folder.
class ShowGenotype : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() /
           ("autonet-genotype-show-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_);
  }
  void TearDown() override { fs::remove_all(out_); }

  void show(std::vector<std::string> args) {
    CLI::App app("autonet");
    add_genotype_command(app);
    args.insert(args.begin(), {"genotype", "show"});
    args.insert(args.end(), {"--out", out_.string()});
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them so
    testing::internal::CaptureStdout();
    try {
      app.parse(reversed);
    } catch (...) {
      testing::internal::GetCapturedStdout();  // end the capture, then fail the test
      throw;
    }
    testing::internal::GetCapturedStdout();
  }

  fs::path out_;
};

bool dot_installed() { return fs::exists("/usr/bin/dot") || fs::exists("/usr/local/bin/dot"); }

TEST_F(ShowGenotype, DrawsThe11NodeEnasCell) {
  show({"ENAS"});
  EXPECT_EQ(darts::load_rnn_genotype((out_ / "genotype.txt").string()),
            darts::published_rnn_genotype("ENAS"));
  const std::string dot = read(out_ / "recurrent.dot");
  EXPECT_NE(dot.find("digraph recurrent"), std::string::npos) << dot;
  EXPECT_NE(dot.find("8 -> 11 [label=\"relu\"]"), std::string::npos) << dot;  // last node
  EXPECT_NE(dot.find("11 -> h_t"), std::string::npos) << dot;
  EXPECT_EQ(dot.find("3 -> h_t"), std::string::npos) << dot;  // node 3 is not in the concat
  EXPECT_FALSE(fs::exists(out_ / "normal.dot"));
  EXPECT_EQ(fs::exists(out_ / "recurrent.svg"), dot_installed());
}

TEST_F(ShowGenotype, RecurrentFlagReadsSharedNamesAsRnnCells) {
  show({"DARTS_V2", "--recurrent"});
  EXPECT_EQ(darts::load_rnn_genotype((out_ / "genotype.json").string()),
            darts::published_rnn_genotype("DARTS_V2"));
  EXPECT_NE(read(out_ / "recurrent.dot").find("5 -> 8 [label=\"relu\"]"), std::string::npos);
}

TEST_F(ShowGenotype, RecurrentTextNeedsNoFlagAndCnnNamesDrawBothCells) {
  show({darts::to_text(darts::published_rnn_genotype("DARTS_V1"))});
  EXPECT_TRUE(fs::exists(out_ / "recurrent.dot"));
  fs::remove_all(out_);
  show({"AmoebaNet"});
  EXPECT_EQ(darts::load_cnn_genotype((out_ / "genotype.txt").string()),
            darts::published_cnn_genotype("AmoebaNet"));
  EXPECT_NE(read(out_ / "reduce.dot").find("c_k2 -> 4 [label=\"conv_7x1_1x7\"]"), std::string::npos);
  EXPECT_FALSE(fs::exists(out_ / "recurrent.dot"));
}

}  // namespace
}  // namespace autonet::apps
