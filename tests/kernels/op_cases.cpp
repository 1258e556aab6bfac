// The kernel verification table: an explicit list of every family's rows (no self-registration,
// which static libraries would silently drop).
#include "tests/kernels/op_case.h"

namespace autonet::test {

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> all;
  for (auto family : {
           elementwise_cases,
           batch_norm_cases,
           batch_norm_group_cases,
           mixed_sum_cases,
           bn_mixed_sum_cases,
           optim_cases,
           gemm_cases,
           conv2d_cases,
           depthwise_conv2d_cases,
           pool2d_cases,
           stencil_group_cases,
           pointwise_group_cases,
           depthwise_group_cases,
           factorized_reduce_cases,
           reduce_cases,
           softmax_cases,
           embedding_cases,
           dropout_cases,
           concat_cases,
           channel_shuffle_cases,
           rnn_cell_cases,
       }) {
    for (OpCase& c : family()) all.push_back(std::move(c));
  }
  return all;
}

}  // namespace autonet::test
