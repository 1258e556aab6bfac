#include <gtest/gtest.h>

#include <string>

#include "runtime/allocator.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"
#include "tests/test_text.h"

namespace autonet {

TEST(Philox, MatchesPublishedKnownAnswers) {
  // Known-answer vectors of Philox4x32-10 (Salmon et al., Random123 distribution).
  const Philox4 zero = philox4x32(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  const Philox4 ones = philox4x32(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
}

TEST(Philox, GeneratorHandsOutDisjointRanges) {
  PhiloxGenerator gen(42, 3);
  const PhiloxKey a = gen.next(10), b = gen.next(1);
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(b.offset, 3u);  // ceil(10 / 4)
  EXPECT_NE(philox_uniform(a, 0), philox_uniform(b, 0));
  double mean = 0;
  for (int i = 0; i < 40000; ++i) mean += philox_uniform(a, i);
  EXPECT_NEAR(mean / 40000, 0.5, 0.01);
}

// A key recorded into a graph draws at offset + *offset_base, read when it draws: with the base
// at the generator's offset when the recorded work starts, it draws what a plain key would.
TEST(Philox, AnchoredKeysDrawWhatPlainKeysDrawAtTheBase) {
  PhiloxGenerator plain(42, 3), anchored(42, 3);
  plain.set_offset(100);
  anchored.set_offset(100);
  uint64_t base = 0;
  anchored.anchor(&base);
  const PhiloxKey a = anchored.next(10), b = anchored.next(5);
  EXPECT_EQ(a.offset, 0u);  // relative to the anchor
  EXPECT_EQ(b.offset, 3u);
  EXPECT_EQ(anchored.offset(), 105u);  // the generator's state advances as ever
  for (uint64_t start : {100u, 105u, 7000u}) {  // one "replay" per start offset
    base = start;
    plain.set_offset(start);
    const PhiloxKey pa = plain.next(10), pb = plain.next(5);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(philox_bits(a, i), philox_bits(pa, i)) << start;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(philox_uniform(b, i), philox_uniform(pb, i)) << start;
  }
  anchored.unanchor();
  const PhiloxKey c = anchored.next(1);
  EXPECT_EQ(c.offset, 105u);
  EXPECT_EQ(c.offset_base, nullptr);
}

TEST(Tensor, ShapesStridesAndViews) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  Tensor v = t.view({6, -1});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  EXPECT_EQ(v.storage(), t.storage());
  Tensor s = t.slice(1, 1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 2, 4}));
  EXPECT_FALSE(s.is_contiguous());
  EXPECT_EQ(s.offset(), 4);
  EXPECT_THROW(s.view({16}), Error);
  EXPECT_THROW(t.view({5, 5}), Error);
  EXPECT_THROW(t.slice(1, 2, 4), Error);
  EXPECT_THROW(t.size(3), Error);
}

TEST(Tensor, CopiesThroughStridedViews) {
  std::vector<float> values(24);
  for (int i = 0; i < 24; ++i) values[i] = static_cast<float>(i);
  Tensor t = Tensor::from_vector(values, {2, 3, 4});
  Tensor s = t.slice(2, 1, 4, 2).contiguous();  // columns 1 and 3
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
  Tensor row = t.select(1, 2);
  EXPECT_EQ(row.shape(), (Shape{2, 4}));
  EXPECT_EQ(row.contiguous().to_vector<float>(), (std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23}));
  Tensor dst = Tensor::zeros({2, 3, 4});
  Tensor window = dst.slice(1, 0, 1);
  window.copy_from(Tensor::full({2, 1, 4}, 5.0));
  EXPECT_EQ(dst.to_vector<float>()[3], 5.0f);
  EXPECT_EQ(dst.to_vector<float>()[4], 0.0f);
  EXPECT_EQ(dst.to_vector<float>()[12], 5.0f);
}

TEST(Tensor, DtypeConversionAndChecks) {
  Tensor t = Tensor::from_vector<int64_t>({1, -2, 3}, {3});
  EXPECT_EQ(t.to(DType::f64).to_vector<double>(), (std::vector<double>{1, -2, 3}));
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2}, {3}), Error);
  EXPECT_THROW(Tensor::empty({-1}), Error);
  EXPECT_DOUBLE_EQ(Tensor::full({1}, 2.5, DType::f64).item(), 2.5);
  EXPECT_THROW(t.item(), Error);
}

// The operand checks kernel entries share: each failure names `what` and the check that failed.
using test::error_message;

TEST(TensorChecks, FloatTensorNamesTheOperandAndWhatIsWrong) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_EQ(error_message([&] { check_float_tensor(x, 2, "op: x"); }), "no error");
  const std::string dims = error_message([&] { check_float_tensor(x, 4, "op: x"); });
  EXPECT_EQ(dims.rfind("op: x: expected 4 dimensions", 0), 0u) << dims;
  const Tensor ids = Tensor::zeros({2, 3}, DType::i64);
  const std::string dtype = error_message([&] { check_float_tensor(ids, 2, "op: x"); });
  EXPECT_EQ(dtype.rfind("op: x: expected f32 or f64", 0), 0u) << dtype;
  const Tensor strided = Tensor::zeros({2, 6}).slice(1, 0, 6, 2);
  const std::string layout = error_message([&] { check_float_tensor(strided, 2, "op: x"); });
  EXPECT_EQ(layout.rfind("op: x: expected a contiguous tensor", 0), 0u) << layout;
}

TEST(TensorChecks, MatchesNamesTheOperandAndWhatDiffers) {
  const Tensor ref = Tensor::zeros({2, 3});
  EXPECT_EQ(error_message([&] { check_matches(Tensor::zeros({2, 3}), ref, {2, 3}, "op: y"); }),
            "no error");
  const std::string dtype =
      error_message([&] { check_matches(Tensor::zeros({2, 3}, DType::f64), ref, "op: y"); });
  EXPECT_EQ(dtype.rfind("op: y: dtypes differ", 0), 0u) << dtype;
  const std::string shape =
      error_message([&] { check_matches(Tensor::zeros({3, 2}), ref, {2, 3}, "op: y"); });
  EXPECT_EQ(shape.rfind("op: y: expected shape [2, 3]", 0), 0u) << shape;
  const Tensor strided = Tensor::zeros({2, 6}).slice(1, 0, 6, 2);
  const std::string layout = error_message([&] { check_matches(strided, ref, "op: y"); });
  EXPECT_EQ(layout.rfind("op: y: expected a contiguous tensor", 0), 0u) << layout;
  EXPECT_EQ(error_message([&] { check_matches(Tensor(), ref, "op: y"); }),
            "op: y: tensor is undefined");
  // An optional operand: undefined passes, defined is checked.
  EXPECT_EQ(error_message([&] { check_matches_if_defined(Tensor(), ref, {2, 3}, "op: dx"); }),
            "no error");
  const Tensor wrong = Tensor::zeros({1});
  EXPECT_NE(error_message([&] { check_matches_if_defined(wrong, ref, {2, 3}, "op: dx"); }),
            "no error");
}

TEST(TensorChecks, NormalizeAxisCountsFromTheEnd) {
  EXPECT_EQ(normalize_axis(0, 3, "op"), 0);
  EXPECT_EQ(normalize_axis(2, 3, "op"), 2);
  EXPECT_EQ(normalize_axis(-1, 3, "op"), 2);
  EXPECT_EQ(normalize_axis(-3, 3, "op"), 0);
  EXPECT_EQ(error_message([&] { normalize_axis(3, 3, "op"); }),
            "op: axis 3 out of range for 3 dimensions");
  EXPECT_EQ(error_message([&] { normalize_axis(-4, 3, "op"); }),
            "op: axis -4 out of range for 3 dimensions");
}

TEST(TensorChecks, OverlapsWhenViewsShareBytes) {
  const Tensor t = Tensor::zeros({4, 5});
  const Tensor rows01 = t.slice(0, 0, 2), rows12 = t.slice(0, 1, 3), rows23 = t.slice(0, 2, 4);
  EXPECT_TRUE(overlaps(t, t));
  EXPECT_TRUE(overlaps(rows01, rows12));
  EXPECT_TRUE(overlaps(rows12, rows01));
  EXPECT_FALSE(overlaps(rows01, rows23));          // adjacent, not overlapping
  EXPECT_FALSE(overlaps(t, Tensor::zeros({4, 5})));  // another storage
  EXPECT_FALSE(overlaps(t, t.slice(0, 1, 1)));       // empty
  EXPECT_FALSE(overlaps(t, Tensor()));
}

TEST(Tensor, HostMemoryIsAlignedAndCounted) {
  const MemoryStats before = host_memory_stats();
  {
    Tensor t = Tensor::empty({1000});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % kHostAlignment, 0u);
    EXPECT_GE(host_memory_stats().current_bytes, before.current_bytes + 4000);
  }
  EXPECT_EQ(host_memory_stats().current_bytes, before.current_bytes);
}

TEST(Tensor, RandomFillsAreReproducible) {
  Tensor a = Tensor::empty({1000}), b = Tensor::empty({1000});
  fill_normal(a, 0.0, 1.0, 5);
  fill_normal(b, 0.0, 1.0, 5);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  double mean = 0, var = 0;
  for (float v : a.to_vector<float>()) mean += v / 1000.0;
  for (float v : a.to_vector<float>()) var += (v - mean) * (v - mean) / 1000.0;
  EXPECT_NEAR(mean, 0.0, 0.1);
  EXPECT_NEAR(var, 1.0, 0.15);
}

TEST(Device, ParsesNames) {  // not a GPU test: Device values only, no device is touched
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("cuda:1"), Device::cuda(1));
  EXPECT_THROW(parse_device("gpu"), Error);
  EXPECT_THROW(parse_device("cuda:x"), Error);
}

TEST(Device, SaysWhyNoDeviceIsUsable) {  // not a GPU test: what a machine without one sees
  std::string why;
  if (cuda_available(&why)) return;  // the GPU side: CudaTensorsAreMadeWhereAGpuIsUsable
  EXPECT_FALSE(why.empty());
  EXPECT_THROW(Tensor::empty({4}, DType::f32, Device::cuda(0)), Error);
}

TEST(Device, CudaTensorsAreMadeWhereAGpuIsUsable) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  EXPECT_TRUE(why.empty()) << why;
  const Tensor t = Tensor::full({4}, 2.0, DType::f32, Device::cuda(0));
  EXPECT_EQ(t.device(), Device::cuda(0));
  EXPECT_EQ(t.to(Device::cpu()).to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
}

TEST(Error, CarriesFileLineAndMessage) {
  try {
    AN_CHECK(1 + 1 == 3) << "arithmetic is " << "broken";
    FAIL() << "no throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("test_tensor.cpp:"), std::string::npos) << what;
    EXPECT_NE(what.find("arithmetic is broken"), std::string::npos) << what;
  }
}

// Users see message(): the problem without the source path and the failed condition.
TEST(Error, MessageLeavesOutTheSourceLocation) {
  try {
    AN_CHECK(1 + 1 == 3) << "arithmetic is " << "broken";
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.message()), "arithmetic is broken");
    const std::string what = e.what();
    EXPECT_NE(what.find("check failed (1 + 1 == 3): arithmetic is broken"), std::string::npos);
  }
  try {
    AN_THROW() << "unknown op 'x'";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.message()), "unknown op 'x'");
  }
  EXPECT_EQ(std::string(Error("thrown directly").message()), "thrown directly");
}

}  // namespace autonet
