// Study configs in TOML: the same study as the JSON file, parameter order kept, and errors that
// name the file and the line.
#include <gtest/gtest.h>

#include <fstream>

#include "hpsearch/study.h"
#include "hpsearch/toml_reader.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

const std::string kExamples = std::string(AUTONET_SOURCE_DIR) + "/examples/hpsearch/";

// The message load_study_config throws for a file holding `text`.
std::string load_error(const testing::ScratchDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text;
  try {
    load_study_config(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  ASSERT_FALSE(message.empty()) << "no error";
  for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << message;
}

TEST(TomlStudyConfig, ExamplesEqualTheirJsonTwins) {
  if (!toml_supported()) GTEST_SKIP() << "built without toml++ (libtomlplusplus-dev)";
  for (const char* name : {"synthetic", "darts-search"}) {
    const Json from_toml = load_study_config(kExamples + name + ".toml").to_json();
    const Json from_json = load_study_config(kExamples + name + ".json").to_json();
    EXPECT_EQ(from_toml, from_json) << name;
    // Ordered JSON: the parameters come in file order, not toml++'s sorted order.
    std::vector<std::string> order;
    for (const auto& [key, _] : from_toml["space"].items()) order.push_back(key);
    std::vector<std::string> expected;
    for (const auto& [key, _] : from_json["space"].items()) expected.push_back(key);
    EXPECT_EQ(order, expected) << name;
  }
}

TEST(TomlStudyConfig, KeepsTypesAndRecordsLines) {
  if (!toml_supported()) GTEST_SKIP() << "built without toml++ (libtomlplusplus-dev)";
  const TomlDocument doc = parse_toml(
      "seed = 3\n"
      "[space.zeta]\ntype = \"int\"\nlow = 1\nhigh = 4\n"
      "[space.alpha]\ntype = \"categorical\"\nchoices = [\"a\", 2, true, 0.5]\n",
      "t");
  EXPECT_EQ(doc.value.dump(),
            R"({"seed":3,"space":{"zeta":{"type":"int","low":1,"high":4},)"
            R"("alpha":{"type":"categorical","choices":["a",2,true,0.5]}}})");
  EXPECT_EQ(doc.line_of("/seed"), 1);
  EXPECT_EQ(doc.line_of("/space/zeta/high"), 5);
  EXPECT_EQ(doc.line_of("/space/alpha"), 6);
  EXPECT_EQ(doc.line_of("/space/alpha/choices"), 8);
  EXPECT_EQ(doc.line_of("/nothing"), 0);
}

TEST(TomlStudyConfig, ErrorsNameTheFileAndTheLine) {
  if (!toml_supported()) GTEST_SKIP() << "built without toml++ (libtomlplusplus-dev)";
  testing::ScratchDir dir;
  const std::string head = "name = \"t\"\nseed = 1\n";  // lines 1-2
  // Syntax: an unterminated string on line 4.
  expect_contains(load_error(dir, "a.toml", head + "[space.x]\ntype = \"float\nlow = 0\n"),
                  {"a.toml", "not valid TOML", "line 4"});
  // A duplicate key is a TOML error too.
  expect_contains(load_error(dir, "b.toml", head + "[space.x]\ntype = \"float\"\ntype = \"int\"\n"),
                  {"b.toml", "line 5"});
  // The space's own checks, at the parameter's table: an empty range on line 6.
  const std::string x = "[space.x]\ntype = \"float\"\nlow = 0\nhigh = 1\n";  // lines 3-6
  expect_contains(load_error(dir, "c.toml", head + x + "[space.y]\ntype = \"float\"\nlow = 2\nhigh = 1\n"),
                  {"c.toml", "line 7", "parameter 'y'", "empty range"});
  expect_contains(load_error(dir, "d.toml", head + x + "[space.z]\ntype = \"float\"\nlow = 0\nhigh = 1\nlog = true\n"),
                  {"d.toml", "line 7", "parameter 'z'", "log scale needs positive bounds"});
  expect_contains(load_error(dir, "e.toml", head + x + "[space.w]\ntype = \"quantum\"\n"),
                  {"e.toml", "line 7", "unknown type \"quantum\""});
  // Top-level mistakes, at their key.
  expect_contains(load_error(dir, "f.toml", head + "sampelr = \"wr2p\"\n" + x),
                  {"f.toml", "line 3", "unknown field \"sampelr\""});
  expect_contains(load_error(dir, "g.toml", head + x + "[sampler]\nname = \"sobol\"\nscramble = \"yes\"\n"),
                  {"g.toml", "line 7", "\"scramble\" must be true or false"});
  expect_contains(load_error(dir, "h.toml", head + x + "[budget]\ntrials = 0\n"),
                  {"h.toml", "line 7", "budget"});
  // Dates have no JSON form.
  expect_contains(load_error(dir, "i.toml", head + "when = 2024-01-02\n" + x),
                  {"i.toml", "line 3", "dates"});
  // The JSON twin of an error names the file the same way.
  expect_contains(load_error(dir, "c.json", R"({"space": {"y": {"type": "float", "low": 2, "high": 1}}})"),
                  {"c.json", "parameter 'y'", "empty range"});
}

}  // namespace
}  // namespace autonet::hpsearch
