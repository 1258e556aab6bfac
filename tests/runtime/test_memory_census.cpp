// The memory census (runtime/memory_census.h): what is live at the peak, by label.
#include <gtest/gtest.h>

#include "runtime/memory_census.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

size_t bytes_of(const CensusReport& report, const std::string& label) {
  for (const CensusRow& row : report.rows)
    if (row.label == label) return row.bytes;
  return 0;
}

TEST(MemoryCensus, ReportsWhatWasLiveAtThePeakByLabel) {
  const Tensor before = Tensor::empty({1000});  // not counted: made before the census
  memory_census_start(Device::cpu());
  Tensor a = Tensor::empty({256});  // 1 KiB
  a.storage()->label("first op");
  a.storage()->label("second name");  // the first name stays
  {
    Tensor b = Tensor::empty({512});  // 2 KiB, unlabelled, dies before the peak
  }
  Tensor c = Tensor::empty({1024});  // 4 KiB
  c.storage()->label("other op");
  Tensor d = Tensor::empty({128});  // 0.5 KiB, unlabelled: the peak is a + c + d
  d = Tensor();
  c = Tensor();
  Tensor e = Tensor::empty({64});  // after the peak
  e.storage()->label("late op");
  memory_census_stop();
  const Tensor after = Tensor::empty({4096});  // not counted: the census stopped

  const CensusReport report = memory_census_at_peak();
  EXPECT_EQ(report.peak_bytes, 1024u + 4096u + 512u);
  EXPECT_EQ(bytes_of(report, "first op"), 1024u);
  EXPECT_EQ(bytes_of(report, "second name"), 0u);
  EXPECT_EQ(bytes_of(report, "other op"), 4096u);
  EXPECT_EQ(bytes_of(report, "(unlabelled)"), 512u);
  EXPECT_EQ(bytes_of(report, "late op"), 0u);
  ASSERT_FALSE(report.rows.empty());
  EXPECT_EQ(report.rows.front().label, "other op");  // most bytes first
  EXPECT_EQ(report.rows.front().tensors, 1);
}

}  // namespace
}  // namespace autonet
