// Shape (runtime/shape.h): std::vector's behaviour for what the runtime uses, inline, with a clear
// error past kMaxDims dimensions.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <type_traits>

#include "runtime/error.h"
#include "runtime/tensor.h"

namespace autonet {
namespace {

TEST(Shape, BehavesAsAVectorOfSizes) {
  const Shape empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(shape_numel(empty), 1);

  Shape s{2, 3, 4};
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.front(), 2);
  EXPECT_EQ(s.back(), 4);
  EXPECT_EQ(shape_str(s), "[2, 3, 4]");
  EXPECT_EQ(Shape(3), Shape({0, 0, 0}));  // a count, as std::vector(3)
  EXPECT_EQ(Shape(2, 7), Shape({7, 7}));
  EXPECT_EQ(Shape{3}.size(), 1u);  // braces: one dimension of 3

  s.insert(s.begin(), 5);
  EXPECT_EQ(s, Shape({5, 2, 3, 4}));
  const Shape tail{8, 9};
  s.insert(s.begin() + 2, tail.begin(), tail.end());
  EXPECT_EQ(s, Shape({5, 2, 8, 9, 3, 4}));
  s.erase(s.begin() + 1);
  EXPECT_EQ(s, Shape({5, 8, 9, 3, 4}));
  s.pop_back();
  s.push_back(6);
  EXPECT_EQ(s, Shape({5, 8, 9, 3, 6}));
  s.resize(2);
  EXPECT_EQ(s, Shape({5, 8}));
  s.resize(4, 1);
  EXPECT_EQ(s, Shape({5, 8, 1, 1}));
  EXPECT_EQ(s.to_vector(), (std::vector<int64_t>{5, 8, 1, 1}));
  EXPECT_EQ(Shape(std::vector<int64_t>{1, 2}), Shape({1, 2}));

  // Equal when the sizes are, whatever the room behind them held; ordered as vectors are.
  Shape a{1, 2, 3};
  a.pop_back();
  EXPECT_EQ(a, Shape({1, 2}));
  EXPECT_NE(a, Shape({1, 2, 3}));
  EXPECT_LT(Shape({1, 2}), Shape({1, 2, 0}));
  EXPECT_LT(Shape({1, 2, 9}), Shape({1, 3}));
  std::map<Shape, int> by_shape{{Shape{4}, 1}, {Shape{2, 2}, 2}};
  EXPECT_EQ(by_shape.at(Shape({2, 2})), 2);
}

TEST(Shape, LivesInsideTheTensor) {
  static_assert(std::is_trivially_copyable_v<Shape>);
  EXPECT_LE(sizeof(Shape), (Shape::kMaxDims + 1) * sizeof(int64_t));
}

TEST(Shape, MoreDimensionsThanItHoldsIsAClearError) {
  Shape s(Shape::kMaxDims, 1);
  try {
    s.push_back(2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("at most 8 dimensions; [1, 1, 1, 1, 1, 1, 1, 1] would have 9"),
        std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Shape(Shape::kMaxDims + 1), Error);
  EXPECT_THROW((void)Shape({1, 2}).at(2), Error);
}

}  // namespace
}  // namespace autonet
