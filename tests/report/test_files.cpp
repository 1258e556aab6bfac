// Files written whole and atomically, and Graphviz run without a shell.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/atomic_file.h"
#include "report/graphviz.h"
#include "runtime/error.h"

namespace autonet::report {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed at the end.
class Scratch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("autonet-report-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool dot_installed() {
  for (std::stringstream path(std::getenv("PATH") ? std::getenv("PATH") : ""); path.good();) {
    std::string folder;
    std::getline(path, folder, ':');
    if (!folder.empty() && ::access((fs::path(folder) / "dot").c_str(), X_OK) == 0) return true;
  }
  return false;
}

using AtomicWrite = Scratch;

TEST_F(AtomicWrite, ReplacesTheWholeFileAndLeavesNoTemporary) {
  const fs::path file = dir_ / "report.html";
  write_file_atomically(file, "first version, longer than the second");
  write_file_atomically(file, "second");
  EXPECT_EQ(read(file), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AtomicWrite, AnUncommittedFileLeavesTheOldOneUntouched) {
  const fs::path file = dir_ / "genotype.txt";
  write_file_atomically(file, "old");
  {
    AtomicFile half(file);
    half.write("new", 3);
    EXPECT_TRUE(fs::exists(dir_ / "genotype.txt.tmp"));
  }  // an error before commit(): the destructor drops the temporary
  EXPECT_EQ(read(file), "old");
  EXPECT_FALSE(fs::exists(dir_ / "genotype.txt.tmp"));
}

TEST_F(AtomicWrite, AFolderThatIsMissingIsNamedInTheError) {
  const fs::path file = dir_ / "missing" / "x.json";
  try {
    write_file_atomically(file, "{}");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir_ / "missing" / "x.json").string()), std::string::npos) << e.what();
  }
}

using Graphviz = Scratch;

TEST_F(Graphviz, DrawsAFileWhosePathHoldsQuotesAndShellCharacters) {
  if (!dot_installed()) GTEST_SKIP() << "Graphviz `dot` is not on PATH (scripts/install-deps installs it)";
  const fs::path folder = dir_ / "it's a \"run\" $(touch pwned) ; `x`";
  fs::create_directories(folder);
  write_file_atomically(folder / "normal.dot", "digraph normal { a -> b [label=\"sep_conv_3x3\"]; }\n");
  const std::optional<std::string> svg = graphviz_svg(folder / "normal.dot");
  ASSERT_TRUE(svg.has_value());
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_NE(svg->find("sep_conv_3x3"), std::string::npos);
  EXPECT_FALSE(fs::exists("pwned"));
}

TEST_F(Graphviz, AFileDotCannotReadGivesNoDrawing) {
  if (!dot_installed()) GTEST_SKIP() << "Graphviz `dot` is not on PATH (scripts/install-deps installs it)";
  write_file_atomically(dir_ / "bad.dot", "this is not DOT {");
  EXPECT_FALSE(graphviz_svg(dir_ / "bad.dot").has_value());
  EXPECT_FALSE(graphviz_svg(dir_ / "absent.dot").has_value());
}

TEST_F(Graphviz, NoDotOnThePathGivesNoDrawing) {
  write_file_atomically(dir_ / "a.dot", "digraph a { x -> y; }\n");
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", dir_.c_str(), 1);  // a folder without dot
  const std::optional<std::string> svg = graphviz_svg(dir_ / "a.dot");
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(svg.has_value());
}

}  // namespace
}  // namespace autonet::report
