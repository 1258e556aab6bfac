// for_each_keep (one Philox block for four elements) against dropout_keep (a block per element):
// the same decisions for every element, wherever a range starts and ends, with and without a
// mask period (a multiple of 4, and one that is not), and through an anchored key. Then the CPU
// twin, which keeps the last period's decisions it drew, against dropout_keep across calls whose
// keys change in each of their parts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/dropout_math.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

TEST(DropoutKeep, FourAtATimeDrawsWhatOneAtATimeDraws) {
  const uint64_t anchor = 5;
  for (const PhiloxKey& key : {PhiloxKey{11, 3, 7}, PhiloxKey{12, 4, 2, &anchor}})
    for (int64_t period : {int64_t(0), int64_t(6), int64_t(8), int64_t(24)})
      for (int64_t begin = 0; begin < 9; ++begin)
        for (int64_t end = begin; end < begin + 30; end += 7) {
          std::vector<int64_t> seen;
          int kept = 0;
          for_each_keep(key, period, 0.4, begin, end, [&](int64_t i, bool keep) {
            seen.push_back(i);
            kept += keep;
            EXPECT_EQ(keep, dropout_keep(key, period, 0.4, i))
                << "element " << i << " of [" << begin << ", " << end << "), period " << period;
          });
          ASSERT_EQ(std::ssize(seen), end - begin);
          for (int64_t k = 0; k < std::ssize(seen); ++k) EXPECT_EQ(seen[k], begin + k);
          if (end - begin >= 28) {
            EXPECT_GT(kept, 0);  // a draw, not a constant
          }
        }
}

// y[i] as dropout defines it: x[i]·scale where element i is kept, else 0 (a dropped inf or NaN
// too).
template <class T>
void expect_dropout(const Tensor& x, const Tensor& y, const DropoutParams& d,
                    const std::string& what) {
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool keep = dropout_keep(d.key, d.mask_period, d.p, i);
    const T want = keep ? px[i] * dropout_scale<T>(d.p) : T(0);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(py[i])) << what << ", element " << i;
    } else {
      ASSERT_EQ(py[i], want) << what << ", element " << i << (keep ? " (kept)" : " (dropped)");
    }
  }
}

TEST(DropoutKeep, CpuTwinRedrawsItsPeriodMaskWhenAnyPartOfTheKeyChanges) {
  uint64_t anchor = 5;
  const PhiloxKey a{11, 3, 7}, other_seed{12, 3, 7}, other_stream{11, 4, 7}, other_offset{11, 3, 9},
      anchored{11, 3, 7, &anchor};
  struct Call {
    PhiloxKey key;
    int64_t period;
    double p;
  };
  // Each call differs from the one before in one thing (the last two: the anchor's value alone).
  const std::vector<Call> calls{{a, 24, 0.4},
                                {a, 24, 0.4},
                                {other_seed, 24, 0.4},
                                {a, 24, 0.4},
                                {other_stream, 24, 0.4},
                                {other_offset, 24, 0.4},
                                {a, 24, 0.6},
                                {a, 26, 0.6},
                                {anchored, 26, 0.6},
                                {anchored, 26, 0.6}};
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::empty({5, 26}, dtype);  // five periods of 26, or 5⅓ of 24
    fill_uniform(x, -2, 2, 9);
    if (dtype == DType::f32)
      x.data<float>()[3] = std::numeric_limits<float>::infinity(),
      x.data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
    for (size_t c = 0; c < calls.size(); ++c) {
      if (c == calls.size() - 1) anchor = 6;  // a graph replay's next draw: the same key object
      const DropoutParams d{calls[c].p, calls[c].key, calls[c].period};
      Tensor y = Tensor::empty(x.shape(), dtype);
      cpu::dropout_forward(x, y, d);
      const std::string what =
          "call " + std::to_string(c) + (dtype == DType::f32 ? " f32" : " f64");
      if (dtype == DType::f32)
        expect_dropout<float>(x, y, d, what);
      else
        expect_dropout<double>(x, y, d, what);
    }
  }
}

}  // namespace
}  // namespace autonet
