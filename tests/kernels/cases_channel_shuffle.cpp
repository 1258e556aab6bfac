// Rows and hand-computed checks for kernels/channel_shuffle.h.
#include <gtest/gtest.h>

#include "kernels/channel_shuffle.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
OpCase shuffle_case(const Shape& head, int64_t tail_channels, int64_t groups, int fd_samples = 24) {
  const Shape tail = {head[0], tail_channels, head[2], head[3]};
  OpCase c;
  c.name = "channel_shuffle/groups" + std::to_string(groups) + "/" + shape_str(head) + "+" +
           shape_str(tail);
  c.inputs = {{"head", head}, {"tail", tail}};
  c.outputs = {{"y", {head[0], head[1] + tail_channels, head[2], head[3]}}};
  c.forward = [groups](const Tensors& in, Tensors& out) {
    channel_shuffle_forward(in[0], in[1], groups, out[0]);
  };
  c.backward = [groups](const Tensors&, const Tensors&, const Tensors& dout, Tensors& din) {
    channel_shuffle_backward(dout[0], groups, din[0], din[1]);
  };
  expect_pure_copies(c);
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> channel_shuffle_cases() {
  std::vector<OpCase> rows;
  // PC-DARTS at K = 4 (batch 64): a normal edge of C 16 at 32×32, a reduction edge of C 32
  // whose bypass was max-pooled to 16×16.
  rows.push_back(shuffle_case({64, 4, 32, 32}, 12, 4, 8));
  rows.push_back(shuffle_case({64, 8, 16, 16}, 24, 4, 8));
  rows.push_back(shuffle_case({3, 1, 5, 7}, 5, 3));   // odd sizes, 2 channels per group
  rows.push_back(shuffle_case({2, 3, 1, 1}, 2, 5));   // one channel per group, 1×1 planes
  rows.push_back(shuffle_case({2, 2, 3, 3}, 4, 1));   // one group: a plain concat
  rows.push_back(shuffle_case({2, 6, 3, 3}, 0, 3));   // no tail: the official channel_shuffle
  return rows;
}

TEST(ChannelShuffle, HandComputedValues) {
  // The official channel_shuffle with groups 4 on channels 0..7 (1×1 planes):
  // view(1, 4, 2).transpose(1, 2) reads [[0, 2, 4, 6], [1, 3, 5, 7]].
  Tensor head = Tensor::from_vector<float>({0, 1}, {1, 2, 1, 1});
  Tensor tail = Tensor::from_vector<float>({2, 3, 4, 5, 6, 7}, {1, 6, 1, 1});
  Tensor y = Tensor::empty({1, 8, 1, 1});
  channel_shuffle_forward(head, tail, 4, y);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));

  // Two images of 1×2 planes, value 100·image + 10·channel + pixel, groups 2 over 4 channels:
  // output channels come from channels 0, 2, 1, 3 of each image.
  Tensor h = Tensor::from_vector<float>({0, 1, 100, 101}, {2, 1, 1, 2});
  Tensor t = Tensor::from_vector<float>({10, 11, 20, 21, 30, 31, 110, 111, 120, 121, 130, 131},
                                        {2, 3, 1, 2});
  Tensor z = Tensor::empty({2, 4, 1, 2});
  channel_shuffle_forward(h, t, 2, z);
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0, 1, 20, 21, 10, 11, 30, 31,  //
                                                      100, 101, 120, 121, 110, 111, 130, 131}));

  // Backward unshuffles: dy = z gives back head and tail, also with one gradient not wanted.
  Tensor dh = Tensor::full({2, 1, 1, 2}, 9.0), dt = Tensor::full({2, 3, 1, 2}, 9.0);
  channel_shuffle_backward(z, 2, dh, dt);
  EXPECT_EQ(dh.to_vector<float>(), h.to_vector<float>());
  EXPECT_EQ(dt.to_vector<float>(), t.to_vector<float>());
  Tensor no_head;
  Tensor only_tail = Tensor::full({2, 3, 1, 2}, 9.0);
  channel_shuffle_backward(z, 2, no_head, only_tail);
  EXPECT_EQ(only_tail.to_vector<float>(), t.to_vector<float>());
}

TEST(ChannelShuffle, RejectsBadArguments) {
  Tensor head = Tensor::empty({2, 1, 3, 3}), tail = Tensor::empty({2, 3, 3, 3});
  Tensor y = Tensor::empty({2, 4, 3, 3});
  channel_shuffle_forward(head, tail, 4, y);  // the valid call
  EXPECT_THROW(channel_shuffle_forward(head, tail, 3, y), Error);   // 4 channels, 3 groups
  EXPECT_THROW(channel_shuffle_forward(head, tail, 0, y), Error);
  EXPECT_THROW(channel_shuffle_forward(head, Tensor(), 4, y), Error);
  Tensor small_tail = Tensor::empty({2, 3, 2, 3});
  EXPECT_THROW(channel_shuffle_forward(head, small_tail, 4, y), Error);  // planes differ
  Tensor wide_y = Tensor::empty({2, 5, 3, 3});
  EXPECT_THROW(channel_shuffle_forward(head, tail, 5, wide_y), Error);   // channels do not add up
  Tensor head64 = Tensor::empty({2, 1, 3, 3}, DType::f64);
  EXPECT_THROW(channel_shuffle_forward(head64, tail, 4, y), Error);
  Tensor flat = Tensor::empty({2, 4, 9});
  EXPECT_THROW(channel_shuffle_forward(head, tail, 4, flat), Error);
  Tensor long_tail = Tensor::empty({2, 4, 3, 3});
  EXPECT_THROW(channel_shuffle_backward(y, 4, head, long_tail), Error);
  Tensor none, five = Tensor::empty({2, 5, 3, 3});
  EXPECT_THROW(channel_shuffle_backward(y, 4, none, five), Error);
}

}  // namespace autonet::test
