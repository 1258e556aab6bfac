// safetensors files and checkpoints: exact format, round trips, and every corruption the
// readers must turn into a clear autonet::Error (each test writes the bad file itself).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "autograd/checkpoint.h"
#include "autograd/safetensors.h"
#include "tests/autograd/version1_checkpoint.h"

namespace autonet {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("autonet_ckpt_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file(const std::string& name) const { return dir_ / name; }

  // A file with the given header text (length-prefixed, unpadded) followed by `data`.
  fs::path write_raw(const std::string& name, const std::string& header,
                     const std::string& data = "", int64_t header_length = -1) {
    const fs::path path = file(name);
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header_length >= 0 ? static_cast<uint64_t>(header_length) : header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return path;
  }

  fs::path dir_;
};

// Runs fn, which must throw autonet::Error whose message contains each of `parts`.
template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
    return;
  }
  ADD_FAILURE() << "no autonet::Error thrown";
}

template <class T>
bool bytes_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const auto va = a.to_vector<T>(), vb = b.to_vector<T>();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TEST_F(CheckpointTest, RoundTripEveryDtypeScalarAndEmpty) {
  Tensor f32 = Tensor::from_vector<float>({1.5f, -2.25f, 3e-38f, -0.0f, 7.0f, 1e30f}, {2, 3});
  Tensor f64 = Tensor::from_vector<double>({0.1, -1e-300, 1e300, 2.5, 42.0}, {5});
  Tensor i32 = Tensor::from_vector<int32_t>({-7, 2147483647}, {2, 1});
  Tensor i64 = Tensor::from_vector<int64_t>({-1, 9007199254740993LL, 0}, {3});
  Tensor u8 = Tensor::from_vector<uint8_t>({0, 1, 254, 255}, {2, 2});
  Tensor scalar = Tensor::from_vector<float>({3.25f}, {});
  Tensor empty = Tensor::empty({0}, DType::f32);
  Tensor empty2d = Tensor::empty({2, 0}, DType::i64);
  const fs::path path = file("all.safetensors");
  save_safetensors(path,
                   {{"f32", f32}, {"f64", f64}, {"i32", i32}, {"i64", i64}, {"u8", u8},
                    {"scalar", scalar}, {"empty", empty}, {"empty2d", empty2d}},
                   {{"note", "hello"}});
  EXPECT_FALSE(fs::exists(file("all.safetensors.tmp")));

  const SafetensorsContents c = read_safetensors(path);
  EXPECT_EQ(c.metadata, (SafetensorsMetadata{{"note", "hello"}}));
  ASSERT_EQ(c.tensors.size(), 8u);
  EXPECT_TRUE(bytes_equal<float>(c.tensors.at("f32"), f32));
  EXPECT_TRUE(bytes_equal<double>(c.tensors.at("f64"), f64));
  EXPECT_TRUE(bytes_equal<int32_t>(c.tensors.at("i32"), i32));
  EXPECT_TRUE(bytes_equal<int64_t>(c.tensors.at("i64"), i64));
  EXPECT_TRUE(bytes_equal<uint8_t>(c.tensors.at("u8"), u8));
  EXPECT_TRUE(bytes_equal<float>(c.tensors.at("scalar"), scalar));
  EXPECT_EQ(c.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(c.tensors.at("empty").shape(), (Shape{0}));
  EXPECT_EQ(c.tensors.at("empty2d").shape(), (Shape{2, 0}));
  EXPECT_EQ(c.tensors.at("empty2d").dtype(), DType::i64);
}

TEST_F(CheckpointTest, FileLayoutIsSafetensors) {
  const fs::path path = file("layout.safetensors");
  save_safetensors(path, {{"b", Tensor::from_vector<float>({1, 2}, {2})},
                          {"a", Tensor::from_vector<uint8_t>({9}, {1})},
                          {"c", Tensor::from_vector<double>({0.5}, {1, 1})}});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "data must start 8-byte aligned";
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_FALSE(header.contains("__metadata__"));  // only written when there is some
  // Data in the order given, back to back.
  EXPECT_EQ(header["b"]["dtype"], "F32");
  EXPECT_EQ(header["b"]["shape"], nlohmann::json({2}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(header["a"]["dtype"], "U8");
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json({8, 9}));
  EXPECT_EQ(header["c"]["dtype"], "F64");
  EXPECT_EQ(header["c"]["shape"], nlohmann::json({1, 1}));
  EXPECT_EQ(header["c"]["data_offsets"], nlohmann::json({9, 17}));
  ASSERT_EQ(bytes.size(), 8 + n + 17);
  float b[2];
  std::memcpy(b, bytes.data() + 8 + n, 8);
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], 2.0f);
  EXPECT_EQ(static_cast<uint8_t>(bytes[8 + n + 8]), 9);
}

TEST_F(CheckpointTest, ReadsAHandWrittenFile) {
  // As another safetensors writer would produce it: unpadded header, tensors listed out of order.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
      R"("s":{"shape":[],"dtype":"F32","data_offsets":[0,4]}})";
  const fs::path path = write_raw("hand.safetensors", header, f32_bytes({0.5f, 1.5f, -3.0f}));
  const SafetensorsContents c = read_safetensors(path);
  EXPECT_EQ(c.metadata.at("format"), "pt");
  EXPECT_EQ(c.tensors.at("s").to_vector<float>(), (std::vector<float>{0.5f}));
  EXPECT_EQ(c.tensors.at("w").to_vector<float>(), (std::vector<float>{1.5f, -3.0f}));
}

TEST_F(CheckpointTest, WritesViewsAndLoadsIntoViews) {
  // Parameters are views into one flat buffer: write them, load them into another flat buffer.
  Tensor flat = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7}, {7});
  Tensor strided = Tensor::from_vector<float>({10, 11, 12, 13, 14, 15}, {2, 3}).slice(1, 0, 3, 2);
  const fs::path path = file("views.safetensors");
  save_safetensors(path, {{"w0", flat.slice(0, 0, 4).view({2, 2})},
                          {"w1", flat.slice(0, 4, 7)},
                          {"strided", strided}});
  Tensor flat2 = Tensor::zeros({7});
  Tensor strided2 = Tensor::zeros({2, 2});
  load_safetensors_into(path, {{"w1", flat2.slice(0, 4, 7)},
                               {"strided", strided2},
                               {"w0", flat2.slice(0, 0, 4).view({2, 2})}});
  EXPECT_EQ(flat2.to_vector<float>(), flat.to_vector<float>());
  EXPECT_EQ(strided2.to_vector<float>(), (std::vector<float>{10, 12, 13, 15}));
}

TEST_F(CheckpointTest, WriterRejectsBadNames) {
  const Tensor t = Tensor::zeros({1});
  expect_error([&] { save_safetensors(file("x"), {{"a", t}, {"a", t}}); }, {"'a' given twice"});
  expect_error([&] { save_safetensors(file("x"), {{"", t}}); }, {"invalid tensor name"});
  expect_error([&] { save_safetensors(file("x"), {{"__metadata__", t}}); },
               {"invalid tensor name"});
  expect_error([&] { save_safetensors(file("x"), {{"u", Tensor()}}); }, {"'u' is undefined"});
  EXPECT_FALSE(fs::exists(file("x")));
  EXPECT_FALSE(fs::exists(file("x.tmp")));
}

TEST_F(CheckpointTest, CorruptFilesAreClearErrors) {
  const std::string good_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data = f32_bytes({1, 2});
  struct Case {
    std::string name, header, data;
    int64_t header_length;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"no_header_length", "", "", -2, {"truncated", "8-byte header length"}},
      {"header_past_end", "{" + good_entry + "}", data, 4096, {"runs past the end"}},
      {"huge_header_length", "{}", "", int64_t{1} << 62, {"runs past the end"}},
      {"bad_json", "{\"a\": {\"dtype\": ", "", -1, {"not valid JSON"}},
      {"not_an_object", "[1, 2]", "", -1, {"not a JSON object"}},
      {"entry_not_object", R"({"a": 3})", "", -1, {"'a' is not a JSON object"}},
      {"unknown_dtype", R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
       std::string(4, '\0'), -1, {"\"BF16\"", "does not support"}},
      {"no_dtype", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", data, -1, {"\"dtype\""}},
      {"negative_shape", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data, -1,
       {"shape entry -2"}},
      {"float_shape", R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data, -1,
       {"shape entry 2.5"}},
      {"overflowing_shape",
       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data,
       -1, {"overflows"}},
      {"no_offsets", R"({"a":{"dtype":"F32","shape":[2]}})", data, -1, {"data_offsets"}},
      {"offsets_reversed", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data,
       -1, {"begin after end"}},
      {"offsets_wrong_size", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data,
       -1, {"8 bytes", "F32[3] needs 12"}},
      {"offsets_out_of_range", "{" + good_entry + "}", data.substr(0, 6), -1,
       {"out of range", "holds 6 data bytes"}},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       data, -1, {"overlap"}},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data, -1,
       {"gap of 4 bytes"}},
      {"trailing_bytes", "{" + good_entry + "}", data + "xyz", -1, {"3 unclaimed bytes"}},
      {"bad_metadata", R"({"__metadata__":{"k":1}})", "", -1, {"'k' is not a string"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path path;
    if (c.header_length == -2) {
      path = file(c.name);
      std::ofstream(path, std::ios::binary) << "abc";
    } else {
      path = write_raw(c.name, c.header, c.data, c.header_length);
    }
    std::vector<std::string> expect = c.expect;
    expect.push_back(path.string());  // every message names the file
    expect_error([&] { read_safetensors(path); }, expect);
    Tensor dst = Tensor::full({2}, 5.0);
    expect_error([&] { load_safetensors_into(path, {{"a", dst}}); }, expect);
    EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{5, 5}));
  }
  expect_error([&] { read_safetensors(file("does_not_exist")); }, {"cannot open"});
}

TEST_F(CheckpointTest, LoadIntoChecksNamesShapesAndDtypes) {
  const fs::path path = file("w.safetensors");
  save_safetensors(path, {{"a", Tensor::from_vector<float>({1, 2}, {2})},
                          {"b", Tensor::from_vector<float>({3, 4, 5, 6}, {2, 2})}});
  Tensor a = Tensor::full({2}, 9.0), b = Tensor::full({2, 2}, 9.0);
  auto untouched = [&] {
    EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{9, 9}));
    EXPECT_EQ(b.to_vector<float>(), (std::vector<float>(4, 9.0f)));
  };
  const std::string p = path.string();
  expect_error([&] { load_safetensors_into(path, {{"a", a}, {"b", b}, {"c", Tensor::zeros({1})}}); },
               {p, "missing tensor 'c'"});
  untouched();
  expect_error([&] { load_safetensors_into(path, {{"a", a}}); }, {p, "extra tensor 'b'"});
  untouched();
  expect_error(
      [&] { load_safetensors_into(path, {{"a", a}, {"b", Tensor::zeros({4})}}); },
      {p, "'b' has shape [2, 2]", "f32[4]"});
  untouched();
  expect_error(
      [&] { load_safetensors_into(path, {{"a", a}, {"b", Tensor::zeros({2, 2}, DType::f64)}}); },
      {p, "'b' is F32", "f64[2, 2]"});
  untouched();
  expect_error([&] { load_safetensors_into(path, {{"a", a}, {"a", a}, {"b", b}}); },
               {"'a' given twice"});
  untouched();
  load_safetensors_into(path, {{"b", b}, {"a", a}});
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{3, 4, 5, 6}));
}

TEST_F(CheckpointTest, CheckpointRoundTripInOneFile) {
  const fs::path path = file("ckpt.safetensors");
  Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor step = Tensor::from_vector<int64_t>({17}, {});
  const nlohmann::json state = {{"epoch", 3}, {"rng", {{"offset", 12345}}}, {"lr", 0.025}};
  save_checkpoint(path, {{"w", w}, {"step", step}}, state);
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(dir_), {}), std::vector<fs::path>{path});
  const SafetensorsMetadata metadata = read_safetensors_metadata(path);
  EXPECT_EQ(metadata.at("version"), "2");
  EXPECT_EQ(nlohmann::json::parse(metadata.at("state")), state);

  const Checkpoint c = read_checkpoint(path);
  EXPECT_EQ(c.state, state);
  EXPECT_EQ(c.tensors.at("w").to_vector<float>(), w.to_vector<float>());
  EXPECT_EQ(c.tensors.at("step").to_vector<int64_t>(), (std::vector<int64_t>{17}));

  Tensor w2 = Tensor::zeros({3});
  Tensor step2 = Tensor::zeros({}, DType::i64);
  EXPECT_EQ(load_checkpoint(path, {{"w", w2}, {"step", step2}}), state);
  EXPECT_EQ(w2.to_vector<float>(), w.to_vector<float>());
  EXPECT_EQ(step2.item(), 17);
}

// Every state a kill can leave: the previous checkpoint stays the one that loads until the one
// rename commits the next; an unfinished or uncommitted path.tmp is ignored.
TEST_F(CheckpointTest, EveryStateAKillLeavesLoadsACompleteCheckpoint) {
  const fs::path path = file("ckpt.safetensors"), tmp = file("ckpt.safetensors.tmp");
  Tensor w = Tensor::zeros({2});
  expect_error([&] { load_checkpoint(path, {{"w", w}}); }, {path.string(), "does not exist"});

  save_checkpoint(file("next.safetensors"), {{"w", Tensor::from_vector<float>({3, 4}, {2})}},
                  {{"epoch", 2}});
  // Killed while writing the first checkpoint: only a part of path.tmp.
  fs::copy_file(file("next.safetensors"), tmp);
  fs::resize_file(tmp, fs::file_size(tmp) / 2);
  expect_error([&] { load_checkpoint(path, {{"w", w}}); }, {"does not exist"});

  save_checkpoint(path, {{"w", Tensor::from_vector<float>({1, 2}, {2})}}, {{"epoch", 1}});
  for (bool complete : {false, true}) {  // killed during the next write, or just before its rename
    fs::copy_file(file("next.safetensors"), tmp, fs::copy_options::overwrite_existing);
    if (!complete) fs::resize_file(tmp, fs::file_size(tmp) - 3);
    EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 1}}));
    EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2}));
  }
  fs::rename(tmp, path);  // the commit
  EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 2}}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{3, 4}));
}

TEST_F(CheckpointTest, FlippedBytesFailTheChecksumOfTheirTensor) {
  const fs::path path = file("ckpt.safetensors");
  std::vector<float> values(64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i);
  save_checkpoint(path, {{"a", Tensor::from_vector<float>({1, 2}, {2})},
                         {"b", Tensor::from_vector(values, {64})}},
                  {{"epoch", 1}});
  const std::string good = read_bytes(path);
  std::string bad = good;
  for (size_t i = bad.size() - 40; i < bad.size() - 24; ++i) bad[i] ^= 0x5a;  // 16 bytes of 'b'
  write_bytes(path, bad);
  Tensor a = Tensor::full({2}, 7.0), b = Tensor::full({64}, 7.0);
  expect_error([&] { load_checkpoint(path, {{"a", a}, {"b", b}}); },
               {path.string(), "tensor 'b' fails its checksum"});
  expect_error([&] { read_checkpoint(path); }, {"tensor 'b' fails its checksum"});
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{7, 7}));  // nothing loaded

  // The state in the header is checked too ("epoch": 1 → 7).
  bad = good;
  const std::string epoch = "\\\"epoch\\\":1";
  ASSERT_NE(bad.find(epoch), std::string::npos);
  bad[bad.find(epoch) + epoch.size() - 1] = '7';
  write_bytes(path, bad);
  expect_error([&] { load_checkpoint(path, {{"a", a}, {"b", b}}); },
               {path.string(), "the saved state fails its checksum"});
}

TEST_F(CheckpointTest, NonFiniteValuesAreRefusedNamingTheTensor) {
  const fs::path path = file("ckpt.safetensors");
  save_checkpoint(path, {{"ok", Tensor::from_vector<double>({1, 2}, {2})},
                         {"model.w", Tensor::from_vector<float>({1, std::nanf(""), 3}, {3})}},
                  {{"epoch", 1}});
  Tensor ok = Tensor::zeros({2}, DType::f64), w = Tensor::zeros({3});
  expect_error([&] { load_checkpoint(path, {{"ok", ok}, {"model.w", w}}); },
               {path.string(), "tensor 'model.w' holds nan at element 1"});
  test::write_version1_checkpoint(path, {{"model.w", Tensor::full({3}, INFINITY)}}, {}, "id");
  expect_error([&] { read_checkpoint(path); }, {"tensor 'model.w' holds inf at element 0"});
}

TEST_F(CheckpointTest, Version1PairsStillLoad) {
  const fs::path path = file("ckpt.safetensors");
  test::write_version1_checkpoint(path, {{"w", Tensor::from_vector<float>({1, 2}, {2})}},
                                  {{"epoch", 1}}, "0001");
  Tensor w = Tensor::zeros({2});
  EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 1}}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2}));

  // The next save writes version 2 and leaves no version-1 sidecar behind.
  save_checkpoint(path, {{"w", Tensor::from_vector<float>({3, 4}, {2})}}, {{"epoch", 2}});
  EXPECT_FALSE(fs::exists(checkpoint_sidecar_path(path)));
  EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 2}}));
}

// Version 1 renamed the tensor file, then the sidecar: a kill between the two left the new
// tensors beside the old sidecar, the new sidecar still in path.json.tmp.
TEST_F(CheckpointTest, Version1KillBetweenTheTwoRenamesRecovers) {
  const fs::path path = file("ckpt.safetensors");
  const fs::path unrenamed = file("ckpt.safetensors.json.tmp");
  test::write_version1_checkpoint(path, {{"w", Tensor::from_vector<float>({1, 2}, {2})}},
                                  {{"epoch", 1}}, "0001");
  test::write_version1_checkpoint(path, {{"w", Tensor::from_vector<float>({3, 4}, {2})}},
                                  {{"epoch", 2}}, "0002", unrenamed);
  Tensor w = Tensor::zeros({2});
  EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 2}}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(read_checkpoint(path).state, nlohmann::json({{"epoch", 2}}));
}

TEST_F(CheckpointTest, Version1WithoutItsSidecarIsRefused) {
  const fs::path a = file("a.safetensors"), b = file("b.safetensors");
  test::write_version1_checkpoint(a, {{"w", Tensor::from_vector<float>({1}, {1})}},
                                  {{"epoch", 1}}, "000a");
  test::write_version1_checkpoint(b, {{"w", Tensor::from_vector<float>({2}, {1})}},
                                  {{"epoch", 2}}, "000b");
  Tensor w = Tensor::full({1}, 7.0);

  fs::copy_file(checkpoint_sidecar_path(b), checkpoint_sidecar_path(a),
                fs::copy_options::overwrite_existing);
  expect_error([&] { load_checkpoint(a, {{"w", w}}); },
               {a.string(), "no sidecar belongs to its tensor file", "different save"});
  EXPECT_EQ(w.item(), 7.0);
  fs::remove(checkpoint_sidecar_path(a));
  expect_error([&] { load_checkpoint(a, {{"w", w}}); }, {"a.safetensors.json\" is absent"});
  std::ofstream(checkpoint_sidecar_path(a)) << "{\"format\": ";
  expect_error([&] { load_checkpoint(a, {{"w", w}}); }, {"not a complete autonet.checkpoint"});

  // A tensor file of the same save, but cut short.
  fs::resize_file(b, fs::file_size(b) - 2);
  expect_error([&] { load_checkpoint(b, {{"w", w}}); }, {b.string(), "out of range"});
  EXPECT_EQ(w.item(), 7.0);
}

TEST_F(CheckpointTest, FailedSaveLeavesThePreviousCheckpointIntact) {
  const fs::path path = file("ckpt.safetensors");
  save_checkpoint(path, {{"w", Tensor::from_vector<float>({1, 2}, {2})}}, {{"epoch", 1}});

  // The temporary file cannot be created (its path is a folder: fails even for root).
  fs::create_directory(file("ckpt.safetensors.tmp"));
  expect_error([&] {
    save_checkpoint(path, {{"w", Tensor::from_vector<float>({3, 4}, {2})}}, {{"epoch", 2}});
  }, {"cannot create", "ckpt.safetensors.tmp"});
  fs::remove(file("ckpt.safetensors.tmp"));

  // A tensor that cannot be written.
  expect_error([&] {
    save_checkpoint(path, {{"w", Tensor::from_vector<float>({5, 6}, {2})}, {"bad", Tensor()}},
                    {{"epoch", 3}});
  }, {"'bad' is undefined"});
  EXPECT_FALSE(fs::exists(file("ckpt.safetensors.tmp")));

  // An unwritable destination folder.
  expect_error([&] { save_checkpoint(file("no/such/folder/x"), {}, {}); }, {"cannot create"});

  Tensor w = Tensor::zeros({2});
  EXPECT_EQ(load_checkpoint(path, {{"w", w}}), nlohmann::json({{"epoch", 1}}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2}));
}

}  // namespace
}  // namespace autonet
